// See pass_record.h.
#include "passes/pass_record.h"

#include <nlohmann/json.hpp>

namespace nnc {

void recordPassInMetadata(Model& model, const std::string& pass, const std::map<std::string, std::string>& options) {
  nlohmann::ordered_json record;
  record["tool"] = std::string("nncompress ") + NNC_VERSION;
  record["options"] = nlohmann::ordered_json::object();
  for (const auto& [key, value] : options) record["options"][key] = value;  // std::map: sorted
  model.setMetadata("nncompress." + pass, record.dump());
}

}  // namespace nnc

// Records a pass in the model's metadata_props: "nncompress.<pass>" = {"tool", "options"} as
// compact JSON with sorted keys, so the same run always writes the same bytes.
#pragma once

#include <map>
#include <string>

#include "nncompress/ir/graph.h"

namespace nnc {

void recordPassInMetadata(Model& model, const std::string& pass, const std::map<std::string, std::string>& options);

}  // namespace nnc

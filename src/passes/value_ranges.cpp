// See value_ranges.h.
#include "passes/value_ranges.h"

#include <cmath>

#include "nncompress/analysis/metrics.h"
#include "nncompress/runtime/session.h"

namespace nnc {

Expected<std::map<const Value*, float>> observeMaxAbs(const Model& model, const Dataset& data, int64_t batch, int threads) {
  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {threads, nullptr}));
  NNC_RETURN_IF_ERROR(data.validate(*session));
  std::map<const Value*, float> ranges;
  ValueObserver observe = [&](const Value& value, const Tensor& t) {
    if (!isFloatingPoint(t.dtype)) return;
    float& m = ranges[&value];
    for (int64_t i = 0; i < t.elementCount(); ++i) {
      const double x = std::fabs(elementAsDouble(t, i));
      if (std::isfinite(x) && x > m) m = static_cast<float>(x);
    }
  };
  for (int64_t begin = 0; begin < data.size(); begin += batch) {
    NNC_ASSIGN_OR_RETURN(NamedTensors inputs, data.batch(*session, begin, std::min(batch, data.size() - begin)));
    for (const auto& [name, tensor] : inputs)
      if (const Value* v = model.graph->findValue(name)) observe(*v, tensor);
    NNC_RETURN_IF_ERROR(session->run(inputs, &observe).status());
  }
  return ranges;
}

}  // namespace nnc

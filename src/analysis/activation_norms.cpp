// Per-feature activation norms over calibration data (see activation_norms.h).
#include "nncompress/analysis/activation_norms.h"

#include <cmath>
#include <map>

namespace nnc {
namespace {

// Adds x^2 of every element to its feature's sum: the tensor is viewed as [outer, features, inner].
Status accumulate(const FeatureProbe& probe, const Tensor& tensor, std::vector<double>& sums) {
  if (tensor.dtype != DType::kFloat)
    return unsupported("value '" + probe.value->name() + "' is " + dtypeName(tensor.dtype) + "; activation norms need float");
  const int64_t rank = static_cast<int64_t>(tensor.shape.size());
  const int64_t axis = probe.axis < 0 ? probe.axis + rank : probe.axis;
  if (axis < 0 || axis >= rank || tensor.shape[static_cast<size_t>(axis)] != probe.features)
    return invalidModel("value '" + probe.value->name() + "' does not have " + std::to_string(probe.features) +
                        " features on axis " + std::to_string(probe.axis));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= tensor.shape[static_cast<size_t>(d)];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= tensor.shape[static_cast<size_t>(d)];
  const float* x = tensor.dataAs<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t f = 0; f < probe.features; ++f) {
      const float* row = x + (o * probe.features + f) * inner;
      double sum = 0;
      for (int64_t i = 0; i < inner; ++i) sum += static_cast<double>(row[i]) * row[i];
      sums[static_cast<size_t>(f)] += sum;
    }
  return Status::ok();
}

}  // namespace

Expected<std::vector<std::vector<double>>> activationFeatureNorms(const Model& model, const std::vector<FeatureProbe>& probes,
                                                                  const Dataset& data, const ActivationNormOptions& options) {
  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {options.threads, nullptr}));
  NNC_RETURN_IF_ERROR(data.validate(*session));
  // Which probes watch each value (several layers may read the same activation).
  std::map<const Value*, std::vector<size_t>> watchers;
  for (size_t p = 0; p < probes.size(); ++p) watchers[probes[p].value].push_back(p);
  std::vector<std::vector<double>> sums(probes.size());
  std::vector<bool> seen(probes.size(), false);
  for (size_t p = 0; p < probes.size(); ++p) sums[p].assign(static_cast<size_t>(probes[p].features), 0.0);

  Status failure;
  auto visit = [&](const Value& value, const Tensor& tensor) {
    auto it = watchers.find(&value);
    if (it == watchers.end() || !failure.isOk()) return;
    for (size_t p : it->second) {
      Status s = accumulate(probes[p], tensor, sums[p]);
      if (!s.isOk()) failure = s;
      seen[p] = true;
    }
  };
  const ValueObserver observer = visit;
  int64_t total = data.size();
  if (options.samples > 0) total = std::min(total, options.samples);
  if (total <= 0) return invalidArgument("the calibration data has no samples");
  const int64_t batch = std::max<int64_t>(1, options.batch_size);
  for (int64_t begin = 0; begin < total; begin += batch) {
    const int64_t n = std::min(batch, total - begin);
    NNC_ASSIGN_OR_RETURN(NamedTensors inputs, data.batch(*session, begin, n));
    // The observer sees node outputs only: graph inputs are measured from the batch itself.
    for (const auto& [name, tensor] : inputs) {
      const Value* input = model.graph->findValue(name);
      if (input != nullptr) visit(*input, tensor);
    }
    NNC_ASSIGN_OR_RETURN(auto outputs, session->run(inputs, &observer));
    (void)outputs;
    NNC_RETURN_IF_ERROR(failure);
    if (options.progress) options.progress(begin + n, total);
  }
  for (size_t p = 0; p < probes.size(); ++p) {
    if (!seen[p]) {
      sums[p].clear();
      continue;
    }
    for (double& s : sums[p]) s = std::sqrt(s);
  }
  return sums;
}

}  // namespace nnc

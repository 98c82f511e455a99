// See bias_correction.h.
#include "passes/bias_correction.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "nncompress/runtime/session.h"

namespace nnc {
namespace {

bool isDefaultDomain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

bool readOnlyBy(const Value* v, const Node* reader) {
  if (v->isGraphOutput()) return false;
  for (const Value::Use& use : v->uses())
    if (use.node != reader) return false;
  return true;
}

// A quantized layer and where its bias lives.
struct Target {
  Node* node;                  // in the quantized model
  const Value* float_output;   // the same output in the float model
  const Value* quant_output;
  std::optional<ConstantRef> int_bias;    // int32 values behind DequantizeLinear
  std::optional<ConstantRef> bias_scale;  // that DequantizeLinear's scale (one, or one per channel)
  std::optional<ConstantRef> float_bias;  // or a float bias
  int64_t channels = 0;
};

// The constant float scale of a DequantizeLinear's output, if `v` is one.
std::optional<ConstantRef> dequantizeScale(Value* v) {
  Node* dq = v != nullptr ? v->producer() : nullptr;
  if (dq == nullptr || dq->op_type != "DequantizeLinear" || dq->input(1) == nullptr) return std::nullopt;
  auto scale = constantRefOf(dq->input(1));
  if (!scale || scale->tensor().dtype != DType::kFloat) return std::nullopt;
  return scale;
}

// A layer without a bias gets a zero int32 one (scale s_x * s_w[c], as the quantize pass gives
// biases) for the correction to go into; nullptr when the input or the weight is not dequantized
// from constants of the expected form.
Value* addZeroBias(Graph& graph, Node* n) {
  if (n->op_type == "Gemm" && (n->attrFloat("alpha", 1) != 1 || n->attrFloat("beta", 1) != 1)) return nullptr;
  auto x_scale = dequantizeScale(n->input(0));
  auto w_scale = dequantizeScale(n->input(1));
  auto w_values = constantRefOf(n->input(1)->producer()->input(0));
  if (!x_scale || !w_scale || !w_values || x_scale->tensor().elementCount() != 1 || w_values->tensor().shape.size() < 2) return nullptr;
  const std::vector<int64_t>& shape = w_values->tensor().shape;
  const int64_t channels = n->op_type == "Conv" ? shape[0] : (n->attrInt("transB", 0) != 0 ? shape[0] : shape[1]);
  const int64_t scales = w_scale->tensor().elementCount();
  if (scales != 1 && scales != channels) return nullptr;
  std::vector<float> bias_scale(static_cast<size_t>(scales));
  for (int64_t c = 0; c < scales; ++c)
    bias_scale[static_cast<size_t>(c)] = x_scale->tensor().dataAs<float>()[0] * w_scale->tensor().dataAs<float>()[c];
  const std::string hint = n->output(0)->name() + "_bias";
  Value* values = graph.addValue(hint + "_q");
  graph.setInitializer(values, Tensor::fromValues<int32_t>(DType::kInt32, {channels}, std::vector<int32_t>(static_cast<size_t>(channels), 0)));
  Value* scale = graph.addValue(hint + "_scale");
  graph.setInitializer(scale, Tensor::fromValues<float>(DType::kFloat, scales == 1 ? std::vector<int64_t>{} : std::vector<int64_t>{channels},
                                                         bias_scale));
  Value* bias = graph.addValue(hint);
  Node* dq = graph.insertNodeBefore(n, "DequantizeLinear");
  graph.appendNodeInput(dq, values);
  graph.appendNodeInput(dq, scale);
  graph.appendNodeOutput(dq, bias);
  if (scales > 1) {
    Attribute axis;
    axis.name = "axis";
    axis.type = AttrType::kInt;
    axis.i = 0;
    dq->attributes.push_back(std::move(axis));
  }
  if (n->inputs().size() > 2) graph.setNodeInput(n, 2, bias);
  else graph.appendNodeInput(n, bias);
  return bias;
}

std::vector<Target> findTargets(const Model& float_model, Model& quantized) {
  std::vector<Target> targets;
  for (Node* n : quantized.graph->nodes()) {
    if (!isDefaultDomain(*n) || (n->op_type != "Conv" && n->op_type != "Gemm")) continue;
    Value* w = n->input(1);
    Value* y = n->output(0);
    if (w == nullptr || y == nullptr || w->producer() == nullptr || w->producer()->op_type != "DequantizeLinear") continue;
    const Value* fy = float_model.graph->findValue(y->name());
    if (fy == nullptr || fy->producer() == nullptr || fy->producer()->op_type != n->op_type) continue;
    Value* b = n->input(2) != nullptr ? n->input(2) : addZeroBias(*quantized.graph, n);
    if (b == nullptr) continue;
    Target t{n, fy, y, std::nullopt, std::nullopt, std::nullopt, 0};
    if (b->producer() != nullptr && b->producer()->op_type == "DequantizeLinear" && readOnlyBy(b, n)) {
      Node* dq = b->producer();
      auto values = constantRefOf(dq->input(0));
      auto scale = dq->input(1) != nullptr ? constantRefOf(dq->input(1)) : std::nullopt;
      if (!values || !scale || values->tensor().dtype != DType::kInt32 || scale->tensor().dtype != DType::kFloat ||
          values->tensor().shape.size() != 1 || !readOnlyBy(dq->input(0), dq))
        continue;
      t.channels = values->tensor().shape[0];
      if (scale->tensor().elementCount() != 1 && scale->tensor().elementCount() != t.channels) continue;
      t.int_bias = values;
      t.bias_scale = scale;
    } else if (auto f = constantRefOf(b); f && f->tensor().dtype == DType::kFloat && f->tensor().shape.size() == 1 && readOnlyBy(b, n)) {
      t.channels = f->tensor().shape[0];
      t.float_bias = f;
    } else {
      continue;
    }
    targets.push_back(std::move(t));
  }
  return targets;
}

// Sums per channel (axis 1) of the observed outputs of the targets.
class ChannelMeans {
 public:
  ChannelMeans(const std::vector<Target>& targets, bool float_side) {
    for (size_t i = 0; i < targets.size(); ++i) {
      index_[float_side ? targets[i].float_output : targets[i].quant_output] = i;
      sums_.emplace_back(static_cast<size_t>(targets[i].channels), 0.0);
      counts_.push_back(0);
    }
  }

  Status observe(const Value& value, const Tensor& t) {
    auto it = index_.find(&value);
    if (it == index_.end()) return Status::ok();
    std::vector<double>& sums = sums_[it->second];
    const int64_t channels = static_cast<int64_t>(sums.size());
    if (t.dtype != DType::kFloat || t.shape.size() < 2 || t.shape[1] != channels)
      return invalidArgument("bias correction: output '" + value.name() + "' is not float with " + std::to_string(channels) +
                             " channels on axis 1");
    int64_t inner = 1;
    for (size_t d = 2; d < t.shape.size(); ++d) inner *= t.shape[d];
    const float* p = t.dataAs<float>();
    for (int64_t i = 0; i < t.elementCount(); ++i) sums[static_cast<size_t>((i / inner) % channels)] += p[i];
    counts_[it->second] += t.elementCount() / channels;
    return Status::ok();
  }

  std::vector<double> means(size_t target) const {
    std::vector<double> m = sums_[target];
    for (double& v : m) v /= std::max<int64_t>(1, counts_[target]);
    return m;
  }

 private:
  std::map<const Value*, size_t> index_;
  std::vector<std::vector<double>> sums_;
  std::vector<int64_t> counts_;
};

Expected<ChannelMeans> measure(const Model& model, const std::vector<Target>& targets, bool float_side, const Dataset& data,
                               const BiasCorrectionOptions& options) {
  ChannelMeans means(targets, float_side);
  SessionOptions session_options;
  session_options.threads = options.threads;
  session_options.fuse_qdq = false;  // the fused integer kernels would hide the layers' outputs
  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, session_options));
  NNC_RETURN_IF_ERROR(data.validate(*session));
  Status bad = Status::ok();
  ValueObserver observer = [&](const Value& v, const Tensor& t) {
    if (bad.isOk()) bad = means.observe(v, t);
  };
  const int64_t total = options.samples > 0 ? std::min(options.samples, data.size()) : data.size();
  for (int64_t begin = 0; begin < total; begin += options.batch_size) {
    NNC_ASSIGN_OR_RETURN(NamedTensors inputs, data.batch(*session, begin, std::min(options.batch_size, total - begin)));
    NNC_RETURN_IF_ERROR(session->run(inputs, &observer).status());
    NNC_RETURN_IF_ERROR(bad);
  }
  return means;
}

// Adds `shift` to the bias; returns the mean |shift|.
double applyShift(const Target& t, const std::vector<double>& shift) {
  double total = 0;
  for (double s : shift) total += std::fabs(s);
  if (t.float_bias) {
    const float* p = t.float_bias->tensor().dataAs<float>();
    std::vector<float> b(p, p + t.channels);
    for (size_t c = 0; c < b.size(); ++c) b[c] = static_cast<float>(b[c] + shift[c]);
    t.float_bias->replace(Tensor::fromValues<float>(DType::kFloat, t.float_bias->tensor().shape, b));
  } else {
    const int32_t* p = t.int_bias->tensor().dataAs<int32_t>();
    const float* scales = t.bias_scale->tensor().dataAs<float>();
    const bool per_channel = t.bias_scale->tensor().elementCount() > 1;
    std::vector<int32_t> q(p, p + t.channels);
    for (size_t c = 0; c < q.size(); ++c) {
      const double step = scales[per_channel ? c : 0];
      if (!(step > 0)) continue;
      const double v = std::nearbyint(static_cast<double>(q[c]) + shift[c] / step);
      q[c] = static_cast<int32_t>(std::clamp(v, static_cast<double>(std::numeric_limits<int32_t>::min()),
                                             static_cast<double>(std::numeric_limits<int32_t>::max())));
    }
    t.int_bias->replace(Tensor::fromValues<int32_t>(DType::kInt32, t.int_bias->tensor().shape, q));
  }
  return shift.empty() ? 0 : total / static_cast<double>(shift.size());
}

// The level of each target: 0 when no other target is upstream of it, else one more than the
// highest target upstream. Layers of one level cannot affect each other, so they are measured
// in the same pass, after the levels above them are corrected: the sequential correction
// (each layer measured with every layer above it corrected) in (levels) passes, not (layers).
Expected<std::vector<int64_t>> levels(const Model& quantized, const std::vector<Target>& targets) {
  std::map<const Node*, size_t> index;
  for (size_t i = 0; i < targets.size(); ++i) index[targets[i].node] = i;
  std::map<const Value*, int64_t> above;  // highest target level upstream of a value (-1: none)
  std::vector<int64_t> level(targets.size(), 0);
  NNC_ASSIGN_OR_RETURN(std::vector<Node*> order, quantized.graph->topologicalOrder());
  for (const Node* n : order) {
    int64_t highest = -1;
    for (const Value* in : n->inputs()) {
      auto it = in != nullptr ? above.find(in) : above.end();
      if (it != above.end()) highest = std::max(highest, it->second);
    }
    auto t = index.find(n);
    if (t != index.end()) {
      level[t->second] = highest + 1;
      highest = highest + 1;
    }
    if (highest >= 0)
      for (const Value* out : n->outputs())
        if (out != nullptr) above[out] = highest;
  }
  return level;
}

}  // namespace

Expected<nlohmann::ordered_json> correctBiases(const Model& float_model, Model& quantized, const Dataset& data,
                                               const BiasCorrectionOptions& options) {
  if (options.batch_size < 1) return invalidArgument("bias correction: batch_size must be >= 1");
  const std::vector<Target> targets = findTargets(float_model, quantized);
  NNC_ASSIGN_OR_RETURN(std::vector<int64_t> level, levels(quantized, targets));
  const int64_t levels_count = level.empty() ? 0 : *std::max_element(level.begin(), level.end()) + 1;
  nlohmann::ordered_json stats;
  stats["layers"] = static_cast<int64_t>(targets.size());
  stats["levels"] = levels_count;
  stats["samples"] = options.samples > 0 ? std::min(options.samples, data.size()) : data.size();
  if (targets.empty()) return stats;
  NNC_ASSIGN_OR_RETURN(ChannelMeans reference, measure(float_model, targets, true, data, options));
  double sum = 0;
  for (int64_t l = 0; l < levels_count; ++l) {
    // The layers of this level see the corrections of every layer above them.
    NNC_ASSIGN_OR_RETURN(ChannelMeans current, measure(quantized, targets, false, data, options));
    for (size_t i = 0; i < targets.size(); ++i) {
      if (level[i] != l) continue;
      const std::vector<double> want = reference.means(i), have = current.means(i);
      std::vector<double> shift(want.size());
      for (size_t c = 0; c < shift.size(); ++c) shift[c] = want[c] - have[c];
      const double mean_abs = applyShift(targets[i], shift);
      spdlog::debug("bias correction: {}: mean |shift| {}", targets[i].node->describe(), mean_abs);
      sum += mean_abs;
    }
  }
  stats["mean_abs_correction"] = sum / static_cast<double>(targets.size());
  return stats;
}

}  // namespace nnc

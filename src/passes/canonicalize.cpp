// canonicalize: local rewrites that make a graph simpler without changing what it computes,
// repeated until nothing changes (at most 16 rounds):
//   - Identity and inference-mode Dropout removed,
//   - nodes whose inputs are all constants folded into initializers (deterministic default-domain
//     ops with a kernel; never QuantizeLinear/DequantizeLinear, which would undo quantization; only
//     when the result is not larger than its inputs, so fp16 weights are not cast back to fp32),
//   - BatchNormalization folded into a preceding Conv or Gemm whose weights are constant,
//   - nodes whose outputs nobody uses, and unused initializers, removed.
// Graph inputs and output names never change.
#include <spdlog/spdlog.h>

#include <cmath>
#include <set>

#include "nncompress/passes/pass.h"
#include "nncompress/runtime/kernel.h"

namespace nnc {
namespace {

bool isDefaultDomain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

// Replaces a single-output node by one of its inputs: uses of the output move to `in`; when the
// output is a graph output, `in` takes over its name (only if `in` is a plain intermediate of this
// graph). Returns false, changing nothing, when that is not possible.
bool bypassNode(Graph& graph, Node* node, Value* in) {
  Value* out = node->output(0);
  const bool out_is_output = out->isGraphOutput();
  if (out_is_output && !(in->graph() == &graph && in->producer() != nullptr && !in->isGraphOutput() && !in->isGraphInput()))
    return false;
  for (size_t i = 1; i < node->outputs().size(); ++i) {
    Value* extra = node->output(i);
    if (extra != nullptr && (!extra->uses().empty() || extra->isGraphOutput())) return false;
  }
  const std::string name = out->name();
  graph.replaceAllUsesWith(out, in);
  std::vector<Value*> outputs(node->outputs().begin(), node->outputs().end());
  graph.eraseNode(node);
  for (Value* v : outputs)
    if (v != nullptr) graph.eraseValue(v);
  if (out_is_output) NNC_ENFORCE(graph.renameValue(in, name).isOk(), "renaming to a freed name");
  return true;
}

int removeIdentities(Graph& graph) {
  int removed = 0;
  for (Node* node : graph.nodes()) {
    if (!isDefaultDomain(*node) || node->output(0) == nullptr || node->input(0) == nullptr) continue;
    bool identity = node->op_type == "Identity";
    if (node->op_type == "Dropout") {
      // Inference: output = input, unless training_mode (opset 12+) may be true or the mask is used.
      Value* mask = node->output(1);
      Value* training = node->input(2);
      bool mask_used = mask != nullptr && (!mask->uses().empty() || mask->isGraphOutput());
      bool may_train = training != nullptr;
      if (training != nullptr) {
        auto c = constantRefOf(training);
        may_train = !c || c->tensor().byteSize() == 0 || c->tensor().bytes()[0] != 0;
      }
      identity = !mask_used && !may_train;
    }
    if (!identity) continue;
    Value* in = node->input(0);
    if (in->type.kind == ValueType::Kind::kSequence || in->type.kind == ValueType::Kind::kOptional) continue;
    removed += bypassNode(graph, node, in) ? 1 : 0;
  }
  return removed;
}

bool isDeterministic(const std::string& op) {
  static const std::set<std::string> kRandom = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                                                "Multinomial", "Bernoulli"};
  return !kRandom.count(op);
}

int foldConstants(Graph& graph, const Model& model) {
  int folded = 0;
  auto order = graph.topologicalOrder();
  if (!order) return 0;
  const OpRegistry& registry = defaultRegistry();
  for (Node* node : *order) {
    if (!isDefaultDomain(*node) || node->op_type == "Constant" || node->hasSubgraphs() || !isDeterministic(node->op_type)) continue;
    if (node->op_type == "QuantizeLinear" || node->op_type == "DequantizeLinear" || node->op_type == "DynamicQuantizeLinear") continue;
    std::vector<const Tensor*> inputs;
    uint64_t input_bytes = 0;
    bool all_constant = true;
    for (Value* in : node->inputs()) {
      if (in == nullptr) {
        inputs.push_back(nullptr);
        continue;
      }
      auto c = constantRefOf(in);
      if (!c || in->graph() != &graph) {
        all_constant = false;
        break;
      }
      inputs.push_back(&c->tensor());
      input_bytes += c->tensor().byteSize();
    }
    if (!all_constant || inputs.empty()) continue;
    // The model's opset decides the semantics (e.g. Squeeze axes as attribute or input).
    const int64_t opset = model.opsetVersion(node->domain);
    const OpDef* def = registry.find(node->domain, node->op_type, opset);
    if (def == nullptr) continue;
    KernelContext ctx(*node, opset, inputs, node->outputs().size(), 1, nullptr);
    if (!def->forward(ctx).isOk()) continue;
    uint64_t output_bytes = 0;
    for (const Tensor& t : ctx.outputs()) output_bytes += t.byteSize();
    if (output_bytes > input_bytes + (64u << 10)) continue;
    std::vector<Value*> outputs(node->outputs().begin(), node->outputs().end());
    graph.eraseNodeKeepOutputs(node);
    for (size_t i = 0; i < outputs.size(); ++i)
      if (outputs[i] != nullptr && ctx.outputs()[i].dtype != DType::kUndefined) graph.setInitializer(outputs[i], ctx.outputs()[i]);
    ++folded;
  }
  return folded;
}

// A float tensor's values (float32 only).
std::vector<float> floats(const Tensor& t) {
  const float* p = t.dataAs<float>();
  return std::vector<float>(p, p + t.elementCount());
}

// Conv/Gemm -> BatchNormalization  ==>  Conv/Gemm with scaled weights and shifted bias.
int foldBatchNorms(Graph& graph) {
  int folded = 0;
  for (Node* bn : graph.nodes()) {
    if (bn->op_type != "BatchNormalization" || !isDefaultDomain(*bn)) continue;
    if (bn->attrInt("training_mode", 0) != 0) continue;
    bool extra_used = false;  // running statistics outputs (training) must be unused
    for (size_t i = 1; i < bn->outputs().size(); ++i)
      extra_used |= bn->output(i) != nullptr && (!bn->output(i)->uses().empty() || bn->output(i)->isGraphOutput());
    if (extra_used) continue;
    Value* x = bn->input(0);
    Node* producer = x != nullptr ? x->producer() : nullptr;
    if (producer == nullptr || !isDefaultDomain(*producer) || x->uses().size() != 1 || x->isGraphOutput()) continue;
    const bool is_conv = producer->op_type == "Conv";
    const bool is_gemm = producer->op_type == "Gemm" && producer->attrInt("transA", 0) == 0;
    if (!is_conv && !is_gemm) continue;
    std::vector<std::optional<ConstantRef>> p;
    for (size_t i = 1; i <= 4; ++i) p.push_back(constantRefOf(bn->input(i)));
    auto w = constantRefOf(producer->input(1));
    if (!w || w->tensor().dtype != DType::kFloat) continue;
    bool ok = true;
    for (const auto& c : p) ok &= c.has_value() && c->tensor().dtype == DType::kFloat;
    if (!ok) continue;
    auto scale = floats(p[0]->tensor()), shift = floats(p[1]->tensor()), mean = floats(p[2]->tensor()), var = floats(p[3]->tensor());
    const size_t channels = scale.size();
    if (shift.size() != channels || mean.size() != channels || var.size() != channels) continue;
    const Tensor& wt = w->tensor();
    // Output channel layout of the weight: Conv [Cout, ...]; Gemm [N, K] (transB=1) or [K, N].
    const bool trans_b = is_gemm && producer->attrInt("transB", 0) != 0;
    const int64_t out_channels = is_conv || trans_b ? wt.shape[0] : wt.shape.back();
    if (static_cast<size_t>(out_channels) != channels || (is_gemm && wt.shape.size() != 2)) continue;
    if (is_gemm && (producer->attrFloat("alpha", 1.0f) != 1.0f || producer->attrFloat("beta", 1.0f) != 1.0f)) continue;
    std::optional<ConstantRef> b = producer->input(2) != nullptr ? constantRefOf(producer->input(2)) : std::nullopt;
    if (producer->input(2) != nullptr && (!b || b->tensor().dtype != DType::kFloat || b->tensor().elementCount() != static_cast<int64_t>(channels))) continue;
    // Shared weights would change other nodes too.
    if (w->value->uses().size() != 1 || (b && b->value->uses().size() != 1)) continue;

    const float epsilon = bn->attrFloat("epsilon", 1e-5f);
    std::vector<float> factor(channels), bias(channels);
    std::vector<float> old_bias = b ? floats(b->tensor()) : std::vector<float>(channels, 0.0f);
    for (size_t c = 0; c < channels; ++c) {
      factor[c] = scale[c] / std::sqrt(var[c] + epsilon);
      bias[c] = (old_bias[c] - mean[c]) * factor[c] + shift[c];
    }
    std::vector<float> weights = floats(wt);
    const int64_t per_channel = wt.elementCount() / out_channels;
    for (int64_t i = 0; i < wt.elementCount(); ++i) {
      const size_t c = is_conv || trans_b ? static_cast<size_t>(i / per_channel) : static_cast<size_t>(i % out_channels);
      weights[static_cast<size_t>(i)] *= factor[c];
    }
    Tensor new_w = Tensor::fromValues<float>(DType::kFloat, wt.shape, weights);
    new_w.name = wt.name;
    w->replace(std::move(new_w));
    Tensor new_b = Tensor::fromValues<float>(DType::kFloat, {static_cast<int64_t>(channels)}, bias);
    if (b) {
      b->replace(std::move(new_b));
    } else {
      Value* bv = graph.addValue(producer->name.empty() ? x->name() + "_bias" : producer->name + "_bias");
      graph.setInitializer(bv, std::move(new_b));
      while (producer->inputs().size() < 2) graph.appendNodeInput(producer, nullptr);
      graph.appendNodeInput(producer, bv);
    }
    NNC_ENFORCE(bypassNode(graph, bn, x), "BatchNormalization after a single-use intermediate can always be bypassed");
    ++folded;
  }
  return folded;
}

int removeDeadCode(Graph& graph) {
  int removed = 0;
  bool again = true;
  while (again) {
    again = false;
    auto nodes = graph.nodes();
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
      Node* node = *it;
      bool used = false;
      for (Value* v : node->outputs()) used |= v != nullptr && (!v->uses().empty() || v->isGraphOutput());
      if (used) continue;
      std::vector<Value*> outputs(node->outputs().begin(), node->outputs().end());
      graph.eraseNode(node);
      for (Value* v : outputs)
        if (v != nullptr && !v->isGraphInput()) graph.eraseValue(v);
      ++removed;
      again = true;
    }
  }
  for (Value* v : std::vector<Value*>(graph.initializers())) {
    if (!v->uses().empty() || v->isGraphOutput() || v->isGraphInput()) continue;
    graph.eraseValue(v);
    ++removed;
  }
  return removed;
}

class CanonicalizePass final : public Pass {
 public:
  std::string name() const override { return "canonicalize"; }

  Expected<PassResult> run(Model& model, PassContext&) override {
    Graph& graph = *model.graph;
    int identities = 0, constants = 0, batchnorms = 0, dead = 0;
    const size_t nodes_before = graph.nodeCount();
    for (int round = 0; round < 16; ++round) {
      const int i = removeIdentities(graph);
      const int c = foldConstants(graph, model);
      const int b = foldBatchNorms(graph);
      const int d = removeDeadCode(graph);
      identities += i;
      constants += c;
      batchnorms += b;
      dead += d;
      if (i + c + b + d == 0) break;
    }
    PassResult result;
    result.changed = graph.nodeCount() != nodes_before || identities + constants + batchnorms + dead > 0;
    result.stats["identities_removed"] = identities;
    result.stats["constants_folded"] = constants;
    result.stats["batchnorms_folded"] = batchnorms;
    result.stats["dead_removed"] = dead;
    result.stats["nodes_before"] = nodes_before;
    result.stats["nodes_after"] = graph.nodeCount();
    result.summary = std::to_string(nodes_before) + " -> " + std::to_string(graph.nodeCount()) + " nodes (" +
                     std::to_string(batchnorms) + " BatchNorm folded, " + std::to_string(constants) + " constants folded, " +
                     std::to_string(identities) + " Identity/Dropout removed, " + std::to_string(dead) + " unused nodes/initializers removed)";
    return result;
  }
};

}  // namespace

Expected<std::unique_ptr<Pass>> createCanonicalizePass(const PassSpec& spec) {
  PassOptions options(spec);
  NNC_RETURN_IF_ERROR(options.checkNoUnknownOptions());
  return std::unique_ptr<Pass>(std::make_unique<CanonicalizePass>());
}

}  // namespace nnc

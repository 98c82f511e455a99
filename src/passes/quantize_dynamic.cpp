// quantize-dynamic{exclude=PATTERN+PATTERN, per_channel=false, reduce_range=false}: dynamic int8
// quantization of MatMul/Gemm with constant weights, as ONNX Runtime's quantize_dynamic writes
// it (QOperator form, which ORT's optimizer fuses into DynamicQuantizeMatMul):
//
//   x ──DynamicQuantizeLinear──▶ x_q (uint8), x_scale, x_zp      (one per activation, shared)
//   MatMulInteger(x_q, w_q int8, x_zp, 0) ─▶ Cast(float) ─▶ Mul(·, Mul(x_scale, w_scale·alpha)) [─▶ Add(β·C)]
//
// Weights: int8 symmetric (zero point 0), one scale per tensor or per output column; activations:
// uint8 asymmetric with the range computed per run. reduce_range=true limits weights to
// [-63, 63] (7 bits), ORT's option for AVX2/AVX-512 CPUs without VNNI whose u8 x s8 kernels
// saturate pairs of products. Needs opset 11 (DynamicQuantizeLinear; opset 9/10 models are raised
// when that is safe, see opset_upgrade.h). docs/quantization_dynamic.md.
#include <map>
#include <sstream>
#include <tuple>

#include "nncompress/passes/pass.h"
#include "passes/dtype_inference.h"
#include "passes/matmul_weights.h"
#include "passes/opset_upgrade.h"
#include "passes/pass_record.h"
#include "passes/unique_names.h"

namespace nnc {
namespace {

struct DynamicOptions {
  std::vector<std::string> exclude;
  bool per_channel = false;
  bool reduce_range = false;
  std::map<std::string, std::string> recorded;
};

// The three outputs of one DynamicQuantizeLinear.
struct QuantizedActivation {
  Value *q, *scale, *zero_point;
};

class DynamicQuantizer {
 public:
  DynamicQuantizer(Model& model, const DynamicOptions& options) : model_(model), options_(options), types_(model), node_names_(model) {}

  Expected<PassResult> run() {
    // DynamicQuantizeLinear needs opset 11: older models are raised to 11 when that changes
    // no op's meaning (ORT's quantizer raises the number without checking).
    const int64_t opset_before = model_.opsetVersion("");
    int64_t upgraded_nodes = 0;
    if (opset_before < 11) {
      Status upgraded = upgradeOpset(model_, 11, &upgraded_nodes);
      if (!upgraded.isOk()) return unsupported("quantize-dynamic needs opset 11 (DynamicQuantizeLinear): " + upgraded.message());
      types_ = DTypeMap(model_);
    }
    auto found = findMatMuls(model_, types_, options_.exclude);
    std::map<std::string, int64_t> skipped;
    std::vector<Value*> old_weights;
    for (auto& [c, why] : found) {
      std::string reason = why;
      if (reason.empty() && c.bias != nullptr && c.beta != 1.0f && !constantRefOf(c.bias)) reason = "Gemm beta != 1 with a non-constant C";
      if (!reason.empty()) {
        ++skipped[reason];
        continue;
      }
      rewrite(c);
      old_weights.push_back(c.weight);
      if (c.bias != nullptr && c.beta != 1.0f) old_weights.push_back(c.bias);
    }
    for (Value* w : old_weights) eraseIfUnused(w);
    recordPassInMetadata(model_, "quantize-dynamic", options_.recorded);
    PassResult r;
    r.changed = quantized_ > 0;
    r.stats["quantized"] = quantized_;
    r.stats["skipped"] = skipped;
    r.stats["weight_bytes_float"] = float_bytes_;
    r.stats["weight_bytes_int8"] = int8_bytes_;
    r.stats["opset_before"] = opset_before;
    r.stats["opset_after"] = model_.opsetVersion("");
    r.stats["nodes_rewritten_for_opset"] = upgraded_nodes;
    std::ostringstream s;
    s << quantized_ << " of " << found.size() << " MatMul/Gemm quantized dynamically (int8 weights "
      << (options_.per_channel ? "per channel" : "per tensor") << ", uint8 activations)";
    if (opset_before != model_.opsetVersion("")) s << ", opset " << opset_before << " -> " << model_.opsetVersion("");
    for (const auto& [reason, n] : skipped) s << "; " << n << " skipped: " << reason;
    r.summary = s.str();
    return r;
  }

 private:
  QuantizedActivation quantizeActivation(Graph& graph, Value* x, Node* before) {
    auto key = std::make_pair(&graph, x);
    auto it = activations_.find(key);
    if (it != activations_.end()) return it->second;
    QuantizedActivation a{graph.addValue(x->name() + "_quantized"), graph.addValue(x->name() + "_scale"),
                          graph.addValue(x->name() + "_zero_point")};
    insertNode(graph, before, "DynamicQuantizeLinear", {x}, {a.q, a.scale, a.zero_point}, node_names_.make(x->name() + "_DynamicQuantizeLinear"));
    activations_[key] = a;
    return a;
  }

  // The int8 weight, its zero point and the float scale (w_scale * alpha) of one weight.
  struct WeightValues {
    Value *q, *zero_point, *scale;
  };
  WeightValues quantizeWeight(Graph& graph, const WeightedMatMul& c) {
    const bool trans = c.node->op_type == "Gemm" && c.node->attrInt("transB", 0) != 0;
    auto key = std::make_tuple(&graph, c.weight, trans, c.alpha);
    auto it = weights_.find(key);
    if (it != weights_.end()) return it->second;
    QuantizedWeight qw = quantizeSymmetric(c.kn, c.k, c.n, options_.per_channel, options_.reduce_range ? 63 : 127);
    std::vector<float> scales = qw.scales;
    for (float& s : scales) s *= c.alpha;
    const std::string base = c.weight->name();
    WeightValues w;
    w.q = addInitializer(graph, base + "_quantized", Tensor::fromValues<int8_t>(DType::kInt8, {c.k, c.n}, qw.q));
    w.zero_point = addInitializer(graph, base + "_zero_point", Tensor::fromValues<int8_t>(DType::kInt8, {}, std::vector<int8_t>{0}));
    std::vector<int64_t> scale_shape = options_.per_channel ? std::vector<int64_t>{c.n} : std::vector<int64_t>{};
    w.scale = addInitializer(graph, base + "_scale", Tensor::fromValues<float>(DType::kFloat, scale_shape, scales));
    weights_[key] = w;
    float_bytes_ += c.k * c.n * 4;
    int8_bytes_ += c.k * c.n + static_cast<int64_t>(scales.size()) * 4 + 1;
    return w;
  }

  void rewrite(const WeightedMatMul& c) {
    Node* node = c.node;
    Graph& graph = *node->graph();
    const std::string name = node->name.empty() ? node->output(0)->name() : node->name;
    QuantizedActivation a = quantizeActivation(graph, node->input(0), node);
    WeightValues w = quantizeWeight(graph, c);
    Value* acc = graph.addValue(name + "_int32");
    insertNode(graph, node, "MatMulInteger", {a.q, w.q, a.zero_point, w.zero_point}, {acc}, node_names_.make(name + "_MatMulInteger"));
    Value* acc_float = graph.addValue(name + "_int32_float");
    Node* cast = insertNode(graph, node, "Cast", {acc}, {acc_float}, node_names_.make(name + "_Cast"));
    setIntAttr(*cast, "to", static_cast<int64_t>(DType::kFloat));
    Value* scale = graph.addValue(name + "_scale");
    insertNode(graph, node, "Mul", {a.scale, w.scale}, {scale}, node_names_.make(name + "_scale_Mul"));
    Value* out = node->output(0);
    Value* bias = nullptr;
    if (c.bias != nullptr) {
      bias = c.bias;
      if (c.beta != 1.0f) {
        auto b = constantRefOf(c.bias);
        const Tensor& t = b->tensor();
        std::vector<float> scaled(t.dataAs<float>(), t.dataAs<float>() + t.elementCount());
        for (float& v : scaled) v *= c.beta;
        bias = addInitializer(graph, c.bias->name() + "_beta", Tensor::fromValues<float>(DType::kFloat, t.shape, scaled));
      }
    }
    Node* last = nullptr;
    if (bias == nullptr) {
      last = insertNode(graph, node, "Mul", {acc_float, scale}, {}, node_names_.make(name + "_output_Mul"));
    } else {
      Value* product = graph.addValue(name + "_product");
      insertNode(graph, node, "Mul", {acc_float, scale}, {product}, node_names_.make(name + "_output_Mul"));
      last = insertNode(graph, node, "Add", {product, bias}, {}, node_names_.make(name + "_bias_Add"));
    }
    graph.eraseNodeKeepOutputs(node);
    graph.appendNodeOutput(last, out);
    ++quantized_;
  }

  Model& model_;
  const DynamicOptions& options_;
  DTypeMap types_;
  UniqueNodeNames node_names_;
  std::map<std::pair<Graph*, Value*>, QuantizedActivation> activations_;
  std::map<std::tuple<Graph*, Value*, bool, float>, WeightValues> weights_;
  int64_t quantized_ = 0, float_bytes_ = 0, int8_bytes_ = 0;
};

class QuantizeDynamicPass final : public Pass {
 public:
  explicit QuantizeDynamicPass(DynamicOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "quantize-dynamic"; }
  Expected<PassResult> run(Model& model, PassContext&) override { return DynamicQuantizer(model, options_).run(); }

 private:
  DynamicOptions options_;
};

}  // namespace

Expected<std::unique_ptr<Pass>> createQuantizeDynamicPass(const PassSpec& spec) {
  PassOptions options(spec);
  DynamicOptions o;
  o.exclude = splitNameList(options.text("exclude", ""));
  NNC_ASSIGN_OR_RETURN(o.per_channel, options.flag("per_channel", false));
  NNC_ASSIGN_OR_RETURN(o.reduce_range, options.flag("reduce_range", false));
  NNC_RETURN_IF_ERROR(options.checkNoUnknownOptions());
  o.recorded = spec.options;
  o.recorded["per_channel"] = o.per_channel ? "true" : "false";
  o.recorded["reduce_range"] = o.reduce_range ? "true" : "false";
  return std::unique_ptr<Pass>(std::make_unique<QuantizeDynamicPass>(std::move(o)));
}

}  // namespace nnc

// quantize-weights{bits=8|4, block_size=32, exclude=PATTERN+PATTERN}: weight-only quantization of
// MatMul/Gemm with constant weights. The weight is stored as integers and a DequantizeLinear in
// front of the float MatMul/Gemm turns it back into float32; activations and compute stay float.
//   bits=8: int8 symmetric, one scale per output channel (DequantizeLinear axis, opset 13+).
//   bits=4: int4 symmetric ([-7, 7]), one scale per block of block_size weights along K
//           (DequantizeLinear block_size, opset 21: the model's opset is raised when that changes
//           no op's meaning, see opset_upgrade.h, else the pass refuses).
// The weight keeps its layout (Gemm transB included); no zero point is stored (symmetric).
// docs/quantization_weights.md.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <tuple>

#include "nncompress/passes/pass.h"
#include "ops/quant_util.h"
#include "passes/dtype_inference.h"
#include "passes/matmul_weights.h"
#include "passes/opset_upgrade.h"
#include "passes/pass_record.h"
#include "passes/unique_names.h"

namespace nnc {
namespace {

struct WeightOptions {
  int bits = 8;
  int64_t block_size = 32;
  std::vector<std::string> exclude;
  std::map<std::string, std::string> recorded;
};

// The quantized form of one weight in its stored layout [R, C] (channel axis `axis`).
struct StoredWeight {
  Tensor q;
  Tensor scale;
  int64_t axis = 0;
  int64_t block = 0;  // 0: per channel
};

// Per-channel int8 along `axis` of the stored [R, C] weight.
StoredWeight perChannelInt8(const float* w, int64_t rows, int64_t cols, int64_t axis) {
  const int64_t channels = axis == 0 ? rows : cols;
  std::vector<float> absmax(static_cast<size_t>(channels), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& m = absmax[static_cast<size_t>(axis == 0 ? r : c)];
      m = std::max(m, std::fabs(w[r * cols + c]));
    }
  std::vector<float> scales(absmax.size());
  for (size_t i = 0; i < absmax.size(); ++i) scales[i] = absmax[i] > 0 ? absmax[i] / 127.0f : 1.0f;
  std::vector<int8_t> q(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float s = scales[static_cast<size_t>(axis == 0 ? r : c)];
      q[static_cast<size_t>(r * cols + c)] = static_cast<int8_t>(ops::quantizeOne(w[r * cols + c], s, 0, -127.0f, 127.0f));
    }
  return {Tensor::fromValues<int8_t>(DType::kInt8, {rows, cols}, q), Tensor::fromValues<float>(DType::kFloat, {channels}, scales), axis, 0};
}

// Block-wise int4 along `axis` (the K axis) of the stored [R, C] weight: the scale tensor has
// the weight's shape with that axis divided by block_size (rounded up), as ONNX requires.
StoredWeight blockwiseInt4(const float* w, int64_t rows, int64_t cols, int64_t axis, int64_t block) {
  const int64_t along = axis == 0 ? rows : cols;
  const int64_t blocks = (along + block - 1) / block;
  const int64_t srows = axis == 0 ? blocks : rows, scols = axis == 0 ? cols : blocks;
  std::vector<float> absmax(static_cast<size_t>(srows * scols), 0.0f);
  auto scaleIndex = [&](int64_t r, int64_t c) { return static_cast<size_t>(axis == 0 ? (r / block) * scols + c : r * scols + c / block); };
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& m = absmax[scaleIndex(r, c)];
      m = std::max(m, std::fabs(w[r * cols + c]));
    }
  std::vector<float> scales(absmax.size());
  for (size_t i = 0; i < absmax.size(); ++i) scales[i] = absmax[i] > 0 ? absmax[i] / 7.0f : 1.0f;
  std::vector<int8_t> q(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      q[static_cast<size_t>(r * cols + c)] = static_cast<int8_t>(ops::quantizeOne(w[r * cols + c], scales[scaleIndex(r, c)], 0, -7.0f, 7.0f));
  return {ops::packInt4(DType::kInt4, {rows, cols}, q.data(), rows * cols), Tensor::fromValues<float>(DType::kFloat, {srows, scols}, scales),
          axis, block};
}

class WeightQuantizer {
 public:
  WeightQuantizer(Model& model, const WeightOptions& options) : model_(model), options_(options) {}

  Expected<PassResult> run() {
    const int64_t need = options_.bits == 4 ? 21 : 13;
    const int64_t opset_before = model_.opsetVersion("");
    int64_t reductions_rewritten = 0;
    if (opset_before < need) {
      Status upgraded = upgradeOpset(model_, need, &reductions_rewritten);
      if (!upgraded.isOk())
        return unsupported("quantize-weights{bits=" + std::to_string(options_.bits) + "} needs opset " + std::to_string(need) +
                           " (DequantizeLinear " + (options_.bits == 4 ? "with int4 and block_size" : "per axis") +
                           "): " + upgraded.message());
    }
    DTypeMap types(model_);
    UniqueNodeNames node_names(model_);
    auto found = findMatMuls(model_, types, options_.exclude);
    std::map<std::string, int64_t> skipped;
    // (graph, float weight, transB) -> its DequantizeLinear output, shared by the weight's readers.
    std::map<std::tuple<Graph*, Value*, bool>, Value*> dequantized;
    int64_t quantized = 0, float_bytes = 0, stored_bytes = 0;
    for (auto& [c, why] : found) {
      if (!why.empty()) {
        ++skipped[why];
        continue;
      }
      Graph& graph = *c.node->graph();
      const bool trans_b = c.node->op_type == "Gemm" && c.node->attrInt("transB", 0) != 0;
      const auto key = std::make_tuple(&graph, c.weight, trans_b);
      auto it = dequantized.find(key);
      if (it == dequantized.end()) {
        const Tensor& w = constantRefOf(c.weight)->tensor();
        const int64_t rows = w.shape[0], cols = w.shape[1];
        // Output channels are columns of [K, N] (axis 1), rows of a transB [N, K] weight (axis 0);
        // int4 blocks run along K, the other axis.
        const int64_t channel_axis = trans_b ? 0 : 1;
        StoredWeight s = options_.bits == 8 ? perChannelInt8(w.dataAs<float>(), rows, cols, channel_axis)
                                            : blockwiseInt4(w.dataAs<float>(), rows, cols, 1 - channel_axis, options_.block_size);
        float_bytes += static_cast<int64_t>(w.byteSize());
        stored_bytes += static_cast<int64_t>(s.q.byteSize() + s.scale.byteSize());
        const std::string base = c.weight->name();
        Value* q = addInitializer(graph, base + "_quantized", std::move(s.q));
        Value* scale = addInitializer(graph, base + "_scale", std::move(s.scale));
        Value* out = graph.addValue(base + "_dequantized");
        Node* dq = insertNode(graph, c.node, "DequantizeLinear", {q, scale}, {out}, node_names.make(base + "_DequantizeLinear"));
        setIntAttr(*dq, "axis", s.axis);
        if (s.block > 0) setIntAttr(*dq, "block_size", s.block);
        it = dequantized.emplace(key, out).first;
      }
      graph.setNodeInput(c.node, 1, it->second);
      ++quantized;
    }
    for (const auto& [key, dq] : dequantized) eraseIfUnused(std::get<1>(key));
    recordPassInMetadata(model_, "quantize-weights", options_.recorded);
    PassResult r;
    r.changed = quantized > 0 || reductions_rewritten > 0 || model_.opsetVersion("") != opset_before;
    r.stats["bits"] = options_.bits;
    r.stats["quantized"] = quantized;
    r.stats["skipped"] = skipped;
    r.stats["weight_bytes_float"] = float_bytes;
    r.stats["weight_bytes_quantized"] = stored_bytes;
    r.stats["opset_before"] = opset_before;
    r.stats["opset_after"] = model_.opsetVersion("");
    r.stats["reductions_axes_to_input"] = reductions_rewritten;
    std::ostringstream text;
    text << quantized << " of " << found.size() << " MatMul/Gemm weights stored as int" << options_.bits
         << (options_.bits == 4 ? " (blocks of " + std::to_string(options_.block_size) + ")" : " (per channel)");
    if (model_.opsetVersion("") != opset_before) text << ", opset " << opset_before << " -> " << model_.opsetVersion("");
    for (const auto& [reason, n] : skipped) text << "; " << n << " skipped: " << reason;
    r.summary = text.str();
    return r;
  }

 private:
  Model& model_;
  const WeightOptions& options_;
};

class QuantizeWeightsPass final : public Pass {
 public:
  explicit QuantizeWeightsPass(WeightOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "quantize-weights"; }
  Expected<PassResult> run(Model& model, PassContext&) override { return WeightQuantizer(model, options_).run(); }

 private:
  WeightOptions options_;
};

}  // namespace

Expected<std::unique_ptr<Pass>> createQuantizeWeightsPass(const PassSpec& spec) {
  PassOptions options(spec);
  WeightOptions o;
  NNC_ASSIGN_OR_RETURN(int64_t bits, options.integer("bits", 8));
  if (bits != 8 && bits != 4) return invalidArgument("quantize-weights: option bits=" + std::to_string(bits) + " is not 8 or 4");
  o.bits = static_cast<int>(bits);
  NNC_ASSIGN_OR_RETURN(o.block_size, options.integer("block_size", 32));
  if (o.block_size < 2) return invalidArgument("quantize-weights: option block_size=" + std::to_string(o.block_size) + " must be at least 2");
  if (o.bits == 8 && spec.options.count("block_size"))
    return invalidArgument("quantize-weights: block_size applies to bits=4 only (int8 weights are per channel)");
  o.exclude = splitNameList(options.text("exclude", ""));
  NNC_RETURN_IF_ERROR(options.checkNoUnknownOptions());
  o.recorded = spec.options;
  o.recorded["bits"] = std::to_string(o.bits);
  if (o.bits == 4) o.recorded["block_size"] = std::to_string(o.block_size);
  return std::unique_ptr<Pass>(std::make_unique<QuantizeWeightsPass>(std::move(o)));
}

}  // namespace nnc

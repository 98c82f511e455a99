// The `cross-layer-equalization` pass (Nagel et al. 2019, "Data-Free Quantization Through
// Weight Equalization and Bias Correction"): for two consecutive layers joined by ops that are
// positively homogeneous per channel (Relu, LeakyRelu, MaxPool, AveragePool, GlobalAveragePool,
// Clip), output channel c of the first layer is divided by s_c and input channel c of the second
// is multiplied by s_c, with s_c = sqrt(r1_c * r2_c) / r2_c (r1_c, r2_c: the channel's largest
// |weight| in each layer), so both layers end with the range sqrt(r1_c * r2_c). Per-tensor weight
// scales then fit every channel, which matters most for depthwise convolutions whose channels'
// ranges differ by orders of magnitude. Pairs sharing a layer (a chain) are equalized in turn
// until the scales stop moving.
//
// The rewrite is exact in float: Relu(x / s) = Relu(x) / s for s > 0, and likewise for the pools.
// Clip(0, hi) is not (its bound would differ per channel), so a Clip on an equalized path becomes
// Relu followed by Min with per-channel bounds hi / S_c (S_c: the channel's total scale).
//
// Layers: Conv (any group count; weight [O, I/g, k...]) and Gemm (transA = 0, bias of shape [N]
// or absent) with constant weights read by no other node. Options: iterations=N (default 100),
// tolerance=T (default 1e-6: stop when no scale moves by more than T relative).
#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "nncompress/passes/pass.h"

namespace nnc {
namespace {

bool isDefaultDomain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

// A Conv or Gemm whose weights are rescaled, held in double so that many iterations add no
// float rounding; written back once at the end.
struct Layer {
  Node* node = nullptr;
  ConstantRef weight_ref{}, bias_ref{};
  bool has_bias = false;
  std::vector<double> weight, bias;
  int64_t out_channels = 0, in_channels = 0;
  int64_t output_rank = 0;  // rank of the layer's output (Conv: weight rank; Gemm: 2)
  // Output and input channel of weight element e.
  std::function<int64_t(int64_t)> out_of, in_of;
};

std::vector<double> toDoubles(const Tensor& t) {
  const float* p = t.dataAs<float>();
  return std::vector<double>(p, p + t.elementCount());
}

Tensor toFloatTensor(const std::vector<int64_t>& shape, const std::vector<double>& values) {
  std::vector<float> f(values.begin(), values.end());
  return Tensor::fromValues<float>(DType::kFloat, shape, f);
}

// A constant float tensor read only by `reader` (rescaling it must not change other nodes).
std::optional<ConstantRef> privateFloatConstant(Value* v, const Node* reader) {
  if (v == nullptr) return std::nullopt;
  auto ref = constantRefOf(v);
  if (!ref || ref->tensor().dtype != DType::kFloat || v->isGraphOutput() || v->isGraphInput()) return std::nullopt;
  for (const Value::Use& use : v->uses())
    if (use.node != reader) return std::nullopt;
  return ref;
}

// The node as a layer; its weight and bias values are read (as doubles) only with `load`, so
// that the pair search does not copy every weight of a large model several times.
std::optional<Layer> asLayer(Node* n, bool load = false) {
  if (!isDefaultDomain(*n) || (n->op_type != "Conv" && n->op_type != "Gemm")) return std::nullopt;
  auto w = privateFloatConstant(n->input(1), n);
  if (!w) return std::nullopt;
  Layer layer;
  layer.node = n;
  layer.weight_ref = *w;
  const std::vector<int64_t>& shape = w->tensor().shape;
  if (n->op_type == "Conv") {
    if (shape.size() < 3) return std::nullopt;
    const int64_t groups = n->attrInt("group", 1);
    const int64_t out = shape[0], per_group_in = shape[1];
    if (groups <= 0 || out % groups != 0) return std::nullopt;
    int64_t kernel = 1;
    for (size_t i = 2; i < shape.size(); ++i) kernel *= shape[i];
    const int64_t out_per_group = out / groups;
    layer.out_channels = out;
    layer.in_channels = per_group_in * groups;
    layer.output_rank = static_cast<int64_t>(shape.size());
    layer.out_of = [=](int64_t e) { return e / (per_group_in * kernel); };
    layer.in_of = [=](int64_t e) {
      const int64_t o = e / (per_group_in * kernel);
      return (o / out_per_group) * per_group_in + (e / kernel) % per_group_in;
    };
  } else {
    if (shape.size() != 2 || n->attrInt("transA", 0) != 0) return std::nullopt;
    const bool trans_b = n->attrInt("transB", 0) != 0;
    const int64_t k = trans_b ? shape[1] : shape[0], cols = shape[1];
    layer.out_channels = trans_b ? shape[0] : shape[1];
    layer.in_channels = k;
    layer.output_rank = 2;
    if (trans_b) {
      layer.out_of = [=](int64_t e) { return e / cols; };
      layer.in_of = [=](int64_t e) { return e % cols; };
    } else {
      layer.out_of = [=](int64_t e) { return e % cols; };
      layer.in_of = [=](int64_t e) { return e / cols; };
    }
  }
  if (n->input(2) != nullptr) {
    auto b = privateFloatConstant(n->input(2), n);
    if (!b || b->tensor().shape != std::vector<int64_t>{layer.out_channels}) return std::nullopt;
    layer.bias_ref = *b;
    layer.has_bias = true;
    if (load) layer.bias = toDoubles(b->tensor());
  }
  if (load) layer.weight = toDoubles(w->tensor());
  return layer;
}

// Clip's bounds when constant (attributes before opset 11, inputs after); +-inf when absent.
std::optional<std::pair<double, double>> clipBounds(const Node& n, int64_t opset) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (opset < 11) return std::make_pair(static_cast<double>(n.attrFloat("min", -kInf)), static_cast<double>(n.attrFloat("max", kInf)));
  double bounds[2] = {-kInf, kInf};
  for (size_t i = 1; i <= 2; ++i) {
    Value* b = n.input(i);
    if (b == nullptr) continue;
    auto c = constantRefOf(b);
    if (!c || c->tensor().dtype != DType::kFloat || c->tensor().elementCount() != 1) return std::nullopt;
    bounds[i - 1] = c->tensor().dataAs<float>()[0];
  }
  return std::make_pair(bounds[0], bounds[1]);
}

// Two layers and the per-channel homogeneous ops between them.
struct Pair {
  size_t first, second;      // indices into the layer list
  std::vector<Node*> clips;  // Clip nodes on the path (rewritten at the end)
};

class Equalizer {
 public:
  Equalizer(Model& model, int64_t iterations, double tolerance)
      : model_(model), graph_(*model.graph), iterations_(iterations), tolerance_(tolerance) {}

  Expected<PassResult> run() {
    findPairs();
    int64_t done = 0;
    for (; done < iterations_ && !pairs_.empty(); ++done) {
      const double moved = equalizeOnce();
      spdlog::debug("cross-layer-equalization: sweep {}: largest relative scale change {}", done + 1, moved);
      if (moved <= tolerance_) {
        ++done;
        break;
      }
    }
    writeBack();
    const int64_t clips = rewriteClips();
    PassResult result;
    result.changed = !pairs_.empty();
    result.stats["pairs"] = static_cast<int64_t>(pairs_.size());
    result.stats["iterations"] = done;
    result.stats["clips_split"] = clips;
    result.summary = "equalized " + std::to_string(pairs_.size()) + " layer pairs in " + std::to_string(done) + " iterations" +
                     (clips > 0 ? ", " + std::to_string(clips) + " Clip split into Relu + per-channel Min" : "");
    if (result.changed) {
      nlohmann::ordered_json record;
      record["pairs"] = pairs_.size();
      record["iterations"] = done;
      record["clips_split"] = clips;
      model_.setMetadata("nncompress.cross_layer_equalization", record.dump());
    }
    return result;
  }

 private:
  size_t layerIndex(Node* n) {
    for (size_t i = 0; i < layers_.size(); ++i)
      if (layers_[i].node == n) return i;
    auto layer = asLayer(n, true);
    NNC_ENFORCE(layer.has_value(), "layerIndex on a node that is not a layer");
    layers_.push_back(std::move(*layer));
    return layers_.size() - 1;
  }

  // Follows the single reader of `first`'s output through homogeneous ops to a second layer.
  std::optional<Pair> pairFrom(Node* first) {
    const std::optional<Layer> layer = asLayer(first);
    if (!layer) return std::nullopt;
    Value* v = first->output(0);
    Pair pair{};
    while (v != nullptr && !v->isGraphOutput() && v->uses().size() == 1) {
      Node* next = v->uses()[0].node;
      if (v->uses()[0].input_index != 0 || !isDefaultDomain(*next)) return std::nullopt;
      const std::string& op = next->op_type;
      if (op == "Conv" || op == "Gemm") {
        auto second = asLayer(next);
        if (!second || second->in_channels != layer->out_channels || second->output_rank < layer->output_rank) return std::nullopt;
        if (layer->output_rank != second->output_rank && op != "Gemm") return std::nullopt;
        if (op == "Gemm" && layer->output_rank != 2) return std::nullopt;  // a Flatten would be needed
        pair.first = layerIndex(first);
        pair.second = layerIndex(next);
        return pair;
      }
      const bool homogeneous = op == "Relu" || op == "LeakyRelu" || op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool";
      if (op == "MaxPool" && next->output(1) != nullptr && !next->output(1)->uses().empty()) return std::nullopt;
      if (op == "Clip") {
        auto bounds = clipBounds(*next, model_.opsetVersion(""));
        if (!bounds || (bounds->first != 0 && !std::isinf(bounds->first))) return std::nullopt;
        pair.clips.push_back(next);
      } else if (!homogeneous) {
        return std::nullopt;
      }
      v = next->output(0);
    }
    return std::nullopt;
  }

  void findPairs() {
    for (Node* n : graph_.nodes())
      if (auto pair = pairFrom(n)) pairs_.push_back(std::move(*pair));
    channel_scale_.resize(pairs_.size());
    for (size_t p = 0; p < pairs_.size(); ++p) channel_scale_[p].assign(static_cast<size_t>(layers_[pairs_[p].first].out_channels), 1.0);
  }

  // One sweep over all pairs; returns the largest relative scale change.
  double equalizeOnce() {
    double largest = 0;
    for (size_t p = 0; p < pairs_.size(); ++p) {
      Layer& a = layers_[pairs_[p].first];
      Layer& b = layers_[pairs_[p].second];
      const size_t channels = static_cast<size_t>(a.out_channels);
      std::vector<double> r1(channels, 0), r2(channels, 0);
      for (size_t e = 0; e < a.weight.size(); ++e) {
        double& r = r1[static_cast<size_t>(a.out_of(static_cast<int64_t>(e)))];
        r = std::max(r, std::fabs(a.weight[e]));
      }
      for (size_t e = 0; e < b.weight.size(); ++e) {
        double& r = r2[static_cast<size_t>(b.in_of(static_cast<int64_t>(e)))];
        r = std::max(r, std::fabs(b.weight[e]));
      }
      std::vector<double> s(channels, 1.0);
      for (size_t c = 0; c < channels; ++c) {
        // A dead channel (all-zero weights on either side) has nothing to balance.
        if (r1[c] > 0 && r2[c] > 0) s[c] = std::sqrt(r1[c] * r2[c]) / r2[c];
        largest = std::max(largest, std::fabs(s[c] - 1.0));
        channel_scale_[p][c] *= s[c];
      }
      for (size_t e = 0; e < a.weight.size(); ++e) a.weight[e] /= s[static_cast<size_t>(a.out_of(static_cast<int64_t>(e)))];
      if (a.has_bias)
        for (size_t c = 0; c < channels; ++c) a.bias[c] /= s[c];
      for (size_t e = 0; e < b.weight.size(); ++e) b.weight[e] *= s[static_cast<size_t>(b.in_of(static_cast<int64_t>(e)))];
    }
    return largest;
  }

  void writeBack() {
    for (Layer& layer : layers_) {
      layer.weight_ref.replace(toFloatTensor(layer.weight_ref.tensor().shape, layer.weight));
      if (layer.has_bias) layer.bias_ref.replace(toFloatTensor(layer.bias_ref.tensor().shape, layer.bias));
    }
  }

  Value* addConstant(const std::string& hint, Tensor t) {
    Value* v = graph_.addValue(hint);
    graph_.setInitializer(v, std::move(t));
    return v;
  }

  // Clip(0 or -inf, hi) on a path whose channel c is divided by S_c: Relu (if the lower bound
  // is 0), then Min with the bounds hi / S_c shaped [C, 1, ...] to broadcast over the channel axis.
  int64_t rewriteClips() {
    int64_t count = 0;
    for (size_t p = 0; p < pairs_.size(); ++p) {
      for (Node* clip : pairs_[p].clips) {
        auto bounds = clipBounds(*clip, model_.opsetVersion(""));
        NNC_ENFORCE(bounds.has_value(), "clip bounds checked when the pair was found");
        const Layer& a = layers_[pairs_[p].first];
        Value* x = clip->input(0);
        Value* y = clip->output(0);
        Value* current = x;
        if (bounds->first == 0) {
          Value* relu_out = graph_.addValue(y->name() + "_relu");
          Node* relu = graph_.insertNodeBefore(clip, "Relu");
          relu->name = clip->name.empty() ? "" : clip->name + "_relu";
          graph_.appendNodeInput(relu, current);
          graph_.appendNodeOutput(relu, relu_out);
          current = relu_out;
        }
        if (std::isfinite(bounds->second)) {
          std::vector<double> limits(channel_scale_[p].size());
          for (size_t c = 0; c < limits.size(); ++c) limits[c] = bounds->second / channel_scale_[p][c];
          std::vector<int64_t> shape{a.out_channels};
          for (int64_t i = 2; i < a.output_rank; ++i) shape.push_back(1);
          Value* limit = addConstant(y->name() + "_max", toFloatTensor(shape, limits));
          Value* min_out = graph_.addValue(y->name() + "_min");
          Node* min = graph_.insertNodeBefore(clip, "Min");
          min->name = clip->name.empty() ? "" : clip->name + "_min";
          graph_.appendNodeInput(min, current);
          graph_.appendNodeInput(min, limit);
          graph_.appendNodeOutput(min, min_out);
          current = min_out;
        }
        std::vector<Value*> bound_inputs(clip->inputs().begin() + 1, clip->inputs().end());
        graph_.replaceAllUsesWith(y, current);
        const std::string name = y->name();
        graph_.eraseNode(clip);
        graph_.eraseValue(y);
        // The path's last value takes the Clip output's name, so ranges files still match.
        if (current != x) NNC_ENFORCE(graph_.renameValue(current, name).isOk(), "renaming to a freed name");
        for (Value* b : bound_inputs) {
          if (b == nullptr || !b->uses().empty() || b->isGraphOutput()) continue;
          if (b->initializer() != nullptr) {
            graph_.removeInitializer(b);
            graph_.eraseValue(b);
          } else if (b->producer() != nullptr && b->producer()->op_type == "Constant") {
            graph_.eraseNode(b->producer());
            graph_.eraseValue(b);
          }
        }
        ++count;
      }
    }
    return count;
  }

  Model& model_;
  Graph& graph_;
  int64_t iterations_;
  double tolerance_;
  std::vector<Layer> layers_;
  std::vector<Pair> pairs_;
  std::vector<std::vector<double>> channel_scale_;  // per pair: total factor dividing channel c
};

class CrossLayerEqualizationPass : public Pass {
 public:
  std::string name() const override { return "cross-layer-equalization"; }

  static Expected<std::unique_ptr<Pass>> create(const PassSpec& spec) {
    auto pass = std::make_unique<CrossLayerEqualizationPass>();
    PassOptions o(spec);
    NNC_ASSIGN_OR_RETURN(pass->iterations_, o.integer("iterations", 100));
    NNC_ASSIGN_OR_RETURN(pass->tolerance_, o.number("tolerance", 1e-6));
    NNC_RETURN_IF_ERROR(o.checkNoUnknownOptions());
    if (pass->iterations_ < 1) return invalidArgument("cross-layer-equalization: iterations must be at least 1");
    if (!(pass->tolerance_ >= 0)) return invalidArgument("cross-layer-equalization: tolerance must be >= 0");
    return std::unique_ptr<Pass>(std::move(pass));
  }

  Expected<PassResult> run(Model& model, PassContext&) override {
    Equalizer equalizer(model, iterations_, tolerance_);
    NNC_ASSIGN_OR_RETURN(PassResult result, equalizer.run());
    spdlog::info("cross-layer-equalization: {}", result.summary);
    return result;
  }

 private:
  int64_t iterations_ = 100;
  double tolerance_ = 1e-6;
};

}  // namespace

Expected<std::unique_ptr<Pass>> createCrossLayerEqualizationPass(const PassSpec& spec) {
  return CrossLayerEqualizationPass::create(spec);
}

}  // namespace nnc

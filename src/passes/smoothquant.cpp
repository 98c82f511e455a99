// The `smoothquant` pass (Xiao et al. 2022, "SmoothQuant: Accurate and Efficient Post-Training
// Quantization for Large Language Models"): transformer activations have a few channels with
// values far larger than the rest, so a per-tensor activation scale leaves the other channels a
// handful of levels. For an activation X read by MatMul/Gemm with constant weights W (X: [..., K],
// W: [K, N]), input channel j is divided by s_j and row j of W multiplied by it:
//     s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)       (alpha: migration strength, default 0.5)
// which moves part of the activation's range into the weights (quantized per output channel,
// where a larger row costs little). max|X_j| comes from the calibration data (context.data).
//
// The division is folded into the producer when X is read only by the smoothed layers and is a
// LayerNormalization output (last axis, constant scale and bias: scale_j /= s_j, bias_j /= s_j)
// or Add(Mul(z, gamma), beta) with constant gamma and beta (a decomposed LayerNormalization).
// Otherwise a Div(X, s) is inserted before the smoothed readers (Div, not Mul, so that the
// quantize pass leaves it in float instead of quantizing s to int8). Exact in float either way.
// Readers of one X share one s (max|W_j| over all of them), as q/k/v projections do.
//
// Options: alpha=A (0..1, default 0.5), samples=N (calibration samples, 0: all), batch_size=N.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "nncompress/data/dataset.h"
#include "nncompress/passes/pass.h"
#include "nncompress/runtime/session.h"

namespace nnc {
namespace {

bool isDefaultDomain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

// A constant float tensor read only by `reader`.
std::optional<ConstantRef> privateFloatConstant(Value* v, const Node* reader) {
  if (v == nullptr) return std::nullopt;
  auto ref = constantRefOf(v);
  if (!ref || ref->tensor().dtype != DType::kFloat || v->isGraphOutput() || v->isGraphInput()) return std::nullopt;
  for (const Value::Use& use : v->uses())
    if (use.node != reader) return std::nullopt;
  return ref;
}

// A reader whose weight rows (one per input channel) are scaled.
struct Reader {
  Node* node;
  ConstantRef weight;
  bool trans_b;  // Gemm with transB: the weight is [N, K], rows are columns
};

// A MatMul/Gemm reading `x` as input 0 with a private constant 2-D weight; nullopt otherwise.
std::optional<Reader> asReader(const Value::Use& use) {
  Node* n = use.node;
  if (use.input_index != 0 || !isDefaultDomain(*n) || (n->op_type != "MatMul" && n->op_type != "Gemm")) return std::nullopt;
  if (n->op_type == "Gemm" && n->attrInt("transA", 0) != 0) return std::nullopt;
  if (n->input(0) == n->input(1)) return std::nullopt;
  auto w = privateFloatConstant(n->input(1), n);
  if (!w || w->tensor().shape.size() != 2) return std::nullopt;
  return Reader{n, *w, n->op_type == "Gemm" && n->attrInt("transB", 0) != 0};
}

int64_t channelsOf(const Reader& r) { return r.weight.tensor().shape[r.trans_b ? 1 : 0]; }

// One activation and its smoothed readers.
struct Target {
  Value* x;
  std::vector<Reader> readers;
  bool all_readers = false;  // every reader of x is smoothed (folding into the producer is possible)
  int64_t channels = 0;
};

std::vector<Target> findTargets(Graph& graph) {
  std::vector<Target> targets;
  // Graph inputs first, then node outputs: every value that can be a MatMul's activation.
  std::vector<Value*> values;
  for (Value* in : graph.inputs())
    if (in->initializer() == nullptr) values.push_back(in);
  for (Node* n : graph.nodes())
    for (Value* out : n->outputs()) values.push_back(out);
  {
    for (Value* x : values) {
      if (x == nullptr) continue;
      Target t{x, {}, true, 0};
      for (const Value::Use& use : x->uses()) {
        auto r = asReader(use);
        if (!r || (t.channels != 0 && channelsOf(*r) != t.channels)) {
          t.all_readers = false;
          continue;
        }
        t.channels = channelsOf(*r);
        t.readers.push_back(*r);
      }
      if (x->isGraphOutput()) t.all_readers = false;
      if (!t.readers.empty()) targets.push_back(std::move(t));
    }
  }
  return targets;
}

// Largest |x| per channel (last axis) of every target over the data, streamed batch by batch.
Expected<std::map<const Value*, std::vector<double>>> channelMaxima(const Model& model, const std::vector<Target>& targets,
                                                                   const Dataset& data, int64_t samples, int64_t batch,
                                                                   int threads) {
  std::map<const Value*, std::vector<double>> maxima;
  for (const Target& t : targets) maxima[t.x].assign(static_cast<size_t>(t.channels), 0.0);
  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {threads, nullptr}));
  NNC_RETURN_IF_ERROR(data.validate(*session));
  Status bad = Status::ok();
  ValueObserver observe = [&](const Value& value, const Tensor& tensor) {
    auto it = maxima.find(&value);
    if (it == maxima.end() || !bad.isOk()) return;
    std::vector<double>& m = it->second;
    const int64_t k = static_cast<int64_t>(m.size());
    if (tensor.dtype != DType::kFloat || tensor.shape.empty() || tensor.shape.back() != k) {
      bad = invalidArgument("smoothquant: value '" + value.name() + "' is not a float tensor with " + std::to_string(k) +
                            " channels on its last axis");
      return;
    }
    const float* p = tensor.dataAs<float>();
    for (int64_t i = 0; i < tensor.elementCount(); ++i) {
      const double a = std::fabs(p[i]);
      if (std::isfinite(a)) m[static_cast<size_t>(i % k)] = std::max(m[static_cast<size_t>(i % k)], a);
    }
  };
  const int64_t total = samples > 0 ? std::min(samples, data.size()) : data.size();
  for (int64_t begin = 0; begin < total; begin += batch) {
    NNC_ASSIGN_OR_RETURN(NamedTensors inputs, data.batch(*session, begin, std::min(batch, total - begin)));
    for (const auto& [name, tensor] : inputs)
      if (const Value* v = model.graph->findValue(name)) observe(*v, tensor);
    NNC_RETURN_IF_ERROR(session->run(inputs, &observe).status());
    NNC_RETURN_IF_ERROR(bad);
  }
  return maxima;
}

// A constant float tensor of k values along the last axis ([k], [1, k], ...), read only by `reader`.
std::optional<ConstantRef> channelConstant(Value* v, const Node* reader, int64_t k) {
  auto c = privateFloatConstant(v, reader);
  if (!c || c->tensor().elementCount() != k || c->tensor().shape.empty() || c->tensor().shape.back() != k) return std::nullopt;
  return c;
}

// Where 1/s can be folded: the constants of the producer that scale channel j of x linearly.
//   - LayerNormalization over the last axis: its scale and bias;
//   - Add(Mul(z, gamma), beta), the decomposed LayerNormalization of older exports (opset < 17),
//     gamma and beta constant along the last axis: gamma and beta.
// Empty when x has readers that are not smoothed or the producer is neither.
struct Fold {
  std::vector<ConstantRef> constants;
  bool layer_norm = false;
};

std::optional<Fold> foldable(const Target& t) {
  Node* p = t.x->producer();
  if (!t.all_readers || p == nullptr || !isDefaultDomain(*p) || t.x->producerOutput() != 0) return std::nullopt;
  if (p->op_type == "LayerNormalization") {
    if (p->attrInt("axis", -1) != -1) return std::nullopt;
    Fold fold{{}, true};
    for (size_t i = 1; i <= 2; ++i) {
      if (i == 2 && p->input(2) == nullptr) continue;
      auto c = privateFloatConstant(p->input(i), p);
      if (!c || c->tensor().shape != std::vector<int64_t>{t.channels}) return std::nullopt;
      fold.constants.push_back(*c);
    }
    return fold;
  }
  if (p->op_type != "Add") return std::nullopt;
  for (size_t i = 0; i < 2; ++i) {
    auto beta = channelConstant(p->input(i), p, t.channels);
    Value* y = p->input(1 - i);
    if (!beta || y == nullptr || y->isGraphOutput() || y->uses().size() != 1) continue;
    Node* mul = y->producer();
    if (mul == nullptr || !isDefaultDomain(*mul) || mul->op_type != "Mul") continue;
    for (size_t j = 0; j < 2; ++j)
      if (auto gamma = channelConstant(mul->input(j), mul, t.channels)) return Fold{{*gamma, *beta}, false};
  }
  return std::nullopt;
}

// The smoothed reader that comes first in the stored (topological) order.
Node* firstReader(const Graph& graph, const Target& t) {
  for (Node* n : graph.nodes())
    for (const Reader& r : t.readers)
      if (r.node == n) return n;
  NNC_ENFORCE(false, "smoothquant: a reader is not in the graph");
  return nullptr;
}

std::vector<float> floats(const Tensor& t) {
  const float* p = t.dataAs<float>();
  return std::vector<float>(p, p + t.elementCount());
}

class SmoothQuantPass : public Pass {
 public:
  std::string name() const override { return "smoothquant"; }

  static Expected<std::unique_ptr<Pass>> create(const PassSpec& spec) {
    auto pass = std::make_unique<SmoothQuantPass>();
    PassOptions o(spec);
    NNC_ASSIGN_OR_RETURN(pass->alpha_, o.number("alpha", 0.5));
    NNC_ASSIGN_OR_RETURN(pass->samples_, o.integer("samples", 0));
    NNC_ASSIGN_OR_RETURN(pass->batch_size_, o.integer("batch_size", 32));
    NNC_RETURN_IF_ERROR(o.checkNoUnknownOptions());
    if (!(pass->alpha_ >= 0 && pass->alpha_ <= 1)) return invalidArgument("smoothquant: alpha must be in [0, 1]");
    if (pass->samples_ < 0 || pass->batch_size_ < 1) return invalidArgument("smoothquant: samples must be >= 0 and batch_size >= 1");
    return std::unique_ptr<Pass>(std::move(pass));
  }

  Expected<PassResult> run(Model& model, PassContext& context) override {
    if (context.data == nullptr) return invalidArgument("smoothquant needs calibration data (the activations' channel ranges)");
    Graph& graph = *model.graph;
    std::vector<Target> targets = findTargets(graph);
    NNC_ASSIGN_OR_RETURN(auto maxima, channelMaxima(model, targets, *context.data, samples_, batch_size_, context.threads));
    int64_t folded = 0, folded_affine = 0, divided = 0, layers = 0;
    for (const Target& t : targets) {
      const size_t k = static_cast<size_t>(t.channels);
      std::vector<double> w_max(k, 0.0);
      for (const Reader& r : t.readers) {
        const Tensor& w = r.weight.tensor();
        const int64_t cols = w.shape[1];
        const float* p = w.dataAs<float>();
        for (int64_t e = 0; e < w.elementCount(); ++e) {
          const size_t j = static_cast<size_t>(r.trans_b ? e % cols : e / cols);
          w_max[j] = std::max(w_max[j], static_cast<double>(std::fabs(p[e])));
        }
      }
      const std::vector<double>& x_max = maxima.at(t.x);
      std::vector<double> s(k, 1.0);
      for (size_t j = 0; j < k; ++j)
        // A channel never active (or with zero weights) keeps s = 1: there is nothing to move.
        if (x_max[j] > 0 && w_max[j] > 0)
          s[j] = std::clamp(std::pow(x_max[j], alpha_) / std::pow(w_max[j], 1 - alpha_), 1e-5, 1e5);
      for (const Reader& r : t.readers) {
        std::vector<float> w = floats(r.weight.tensor());
        const int64_t cols = r.weight.tensor().shape[1];
        for (size_t e = 0; e < w.size(); ++e)
          w[e] = static_cast<float>(w[e] * s[r.trans_b ? e % static_cast<size_t>(cols) : e / static_cast<size_t>(cols)]);
        r.weight.replace(Tensor::fromValues<float>(DType::kFloat, r.weight.tensor().shape, w));
        ++layers;
      }
      if (auto fold = foldable(t)) {
        for (const ConstantRef& c : fold->constants) {
          std::vector<float> v = floats(c.tensor());
          for (size_t j = 0; j < k; ++j) v[j] = static_cast<float>(v[j] / s[j]);
          c.replace(Tensor::fromValues<float>(DType::kFloat, c.tensor().shape, v));
        }
        ++(fold->layer_norm ? folded : folded_affine);
      } else {
        std::vector<float> sf(s.begin(), s.end());
        Value* divisor = graph.addValue(t.x->name() + "_smooth");
        graph.setInitializer(divisor, Tensor::fromValues<float>(DType::kFloat, {t.channels}, sf));
        Value* smoothed = graph.addValue(t.x->name() + "_smoothed");
        Node* div = graph.insertNodeBefore(firstReader(graph, t), "Div");
        graph.appendNodeInput(div, t.x);
        graph.appendNodeInput(div, divisor);
        graph.appendNodeOutput(div, smoothed);
        for (const Reader& r : t.readers) graph.setNodeInput(r.node, 0, smoothed);
        ++divided;
      }
    }
    PassResult result;
    result.changed = !targets.empty();
    result.stats["alpha"] = alpha_;
    result.stats["activations"] = static_cast<int64_t>(targets.size());
    result.stats["layers"] = layers;
    result.stats["folded_into_layernorm"] = folded;
    result.stats["folded_into_mul_add"] = folded_affine;
    result.stats["divs_inserted"] = divided;
    result.summary = "smoothed " + std::to_string(targets.size()) + " activations read by " + std::to_string(layers) +
                     " MatMul/Gemm (alpha " + nlohmann::json(alpha_).dump() + "; " + std::to_string(folded) +
                     " folded into LayerNormalization, " + std::to_string(folded_affine) +
                     " into Mul+Add, " + std::to_string(divided) + " Div inserted)";
    if (result.changed) {
      nlohmann::ordered_json record = result.stats;
      const int64_t total = samples_ > 0 ? std::min(samples_, context.data->size()) : context.data->size();
      record["samples"] = total;
      model.setMetadata("nncompress.smoothquant", record.dump());
    }
    spdlog::info("smoothquant: {}", result.summary);
    return result;
  }

 private:
  double alpha_ = 0.5;
  int64_t samples_ = 0;
  int64_t batch_size_ = 32;
};

}  // namespace

Expected<std::unique_ptr<Pass>> createSmoothQuantPass(const PassSpec& spec) { return SmoothQuantPass::create(spec); }

}  // namespace nnc

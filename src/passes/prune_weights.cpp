// prune-weights: unstructured pruning of the constant weights of Conv, ConvTranspose, Gemm and
// MatMul (initializers or Constant nodes, main graph and subgraphs). Zeros stay in dense tensors;
// shapes never change (see docs/pruning.md).
//   sparsity=S           fraction of each weight (scope=layer) or of all weights (scope=global) set to 0
//   granularity=weight   single weights | n:m: keep n of every m consecutive weights along the
//                        input-feature (reduction) axis, n=2 m=4 by default (sparse tensor cores)
//   importance=l1|l2     |w| (l2: w^2, the same ranking for single weights) | wanda: |w| * ||x_j||,
//                        the L2 norm of input feature j over the calibration data (PassContext.data)
//   scope=layer|global|output: the same sparsity per layer, one ranking over all layers, or the
//                        same sparsity for every output neuron (Wanda's comparison group)
//   exclude=PATTERN[+PATTERN...] (glob on node name or op type)
//   prune_first_last=false: the first and last prunable layers (graph order) are kept by default
//   samples=N, batch_size=B: calibration samples for wanda (0: all)
// Ties between equal scores go by position (earlier layer, then lower flat index), so the output
// is byte-identical for the same input and options.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "nncompress/analysis/activation_norms.h"
#include "nncompress/analysis/model_summary.h"
#include "nncompress/ir/half.h"
#include "nncompress/passes/pass.h"
#include "passes/prune_masks.h"

namespace nnc {
namespace {

enum class Importance { kL1, kL2, kWanda };
enum class Scope { kLayer, kGlobal, kOutput };

struct PruneWeightsOptions {
  double sparsity = 0;
  bool nm = false;
  int64_t n = 2, m = 4;
  Importance importance = Importance::kL1;
  Scope scope = Scope::kLayer;
  std::vector<std::string> exclude;
  bool prune_first_last = false;
  int64_t samples = 0, batch_size = 32;
};

// A node with a weight this pass knows how to prune, and why it is or is not pruned.
struct Layer {
  Node* node = nullptr;
  std::string name;
  std::optional<ConstantRef> weight;
  ReductionLayout layout;
  ReductionLayout output_groups;  // scope=output: (outer, inner) pairs are the output neurons
  int64_t rows_per_group = 1;  // grouped Conv: output channels per group (feature offset per group)
  int64_t nm_run = 0;          // length of the reduction runs that N:M groups must not straddle
  Value* activation = nullptr;
  int64_t activation_axis = 1;
  int64_t features = 0;
  std::string skip_reason;  // empty: pruned
  int64_t zeros_before = 0, zeros_after = 0;
};

bool isFloatWeight(DType t) { return t == DType::kFloat || t == DType::kFloat16 || t == DType::kBFloat16 || t == DType::kDouble; }

// '*' matches any run of characters, '?' one character; the whole text must match.
bool globMatch(const std::string& pattern, const std::string& text) {
  size_t p = 0, t = 0, star = std::string::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

int64_t product(const std::vector<int64_t>& shape, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= shape[i];
  return p;
}

// Fills the layout of a candidate layer from its op and weight shape; false (with a reason) when
// the node's weight is not something this pass prunes.
bool describeLayer(Layer& layer) {
  Node& node = *layer.node;
  const bool default_domain = node.domain.empty() || node.domain == "ai.onnx";
  if (!default_domain) return false;
  const std::string& op = node.op_type;
  if (op != "Conv" && op != "ConvTranspose" && op != "Gemm" && op != "MatMul") return false;
  layer.weight = constantRefOf(node.input(1));
  layer.activation = node.input(0);
  if (!layer.weight) {
    layer.skip_reason = "weight is not a constant";
    return true;
  }
  const Tensor& w = layer.weight->tensor();
  if (!isFloatWeight(w.dtype)) {
    layer.skip_reason = "weight type " + dtypeName(w.dtype) + " is not floating point";
    return true;
  }
  const std::vector<int64_t>& s = w.shape;
  if (op == "Conv" || op == "ConvTranspose") {
    const int64_t groups = node.attrInt("group", 1);
    if (s.size() < 3 || groups < 1 || s[0] % groups != 0) {
      layer.skip_reason = "unexpected weight shape";
      return true;
    }
    if (op == "Conv") {
      layer.layout = {s[0], s[1], product(s, 2, s.size())};
      // An output channel's inputs are its whole row: C/g channels x kernel positions.
      layer.output_groups = {s[0], s[1] * product(s, 2, s.size()), 1};
      layer.rows_per_group = s[0] / groups;
      layer.nm_run = s[1];
      layer.features = s[1] * groups;
    } else {
      layer.layout = {1, s[0], product(s, 1, s.size())};
      layer.output_groups = layer.layout;  // per output channel and kernel position
      layer.rows_per_group = 1;
      layer.nm_run = s[0] / groups;
      layer.features = s[0];
    }
    layer.activation_axis = 1;
  } else if (op == "Gemm") {
    if (s.size() != 2) {
      layer.skip_reason = "unexpected weight shape";
      return true;
    }
    const bool trans_b = node.attrInt("transB", 0) != 0;
    layer.layout = trans_b ? ReductionLayout{s[0], s[1], 1} : ReductionLayout{1, s[0], s[1]};
    layer.output_groups = layer.layout;
    layer.rows_per_group = layer.layout.outer;
    layer.nm_run = layer.layout.reduce;
    layer.features = layer.layout.reduce;
    layer.activation_axis = node.attrInt("transA", 0) != 0 ? 0 : 1;
  } else {  // MatMul: x[..., K] @ W[..., K, N]
    if (s.size() < 2) {
      layer.skip_reason = "weight is a vector";
      return true;
    }
    layer.layout = {product(s, 0, s.size() - 2), s[s.size() - 2], s.back()};
    layer.output_groups = layer.layout;
    layer.rows_per_group = layer.layout.outer;
    layer.nm_run = layer.layout.reduce;
    layer.features = layer.layout.reduce;
    layer.activation_axis = -1;
  }
  return true;
}

// Every prunable-op node in graph order: the main graph topologically, each node's subgraphs
// right after it. Unnamed nodes are "<op>#<node index>", counted as `inspect` counts them.
Status collectLayers(Graph& graph, std::vector<Layer>& layers, int64_t& node_index) {
  NNC_ASSIGN_OR_RETURN(std::vector<Node*> order, graph.topologicalOrder());
  for (Node* node : order) {
    Layer layer;
    layer.node = node;
    layer.name = node->name.empty() ? node->op_type + "#" + std::to_string(node_index) : node->name;
    ++node_index;
    if (describeLayer(layer)) layers.push_back(std::move(layer));
    for (Attribute& a : node->attributes) {
      if (a.g) NNC_RETURN_IF_ERROR(collectLayers(*a.g, layers, node_index));
      for (auto& g : a.graphs) NNC_RETURN_IF_ERROR(collectLayers(*g, layers, node_index));
    }
  }
  return Status::ok();
}

double elementAsDouble(const Tensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::kFloat: return t.dataAs<float>()[i];
    case DType::kDouble: return t.dataAs<double>()[i];
    case DType::kFloat16: return halfToFloat(t.dataAs<uint16_t>()[i]);
    case DType::kBFloat16: return bfloat16ToFloat(t.dataAs<uint16_t>()[i]);
    default: NNC_ENFORCE(false, "not a float weight");
  }
  return 0;
}

// One importance score per weight element.
std::vector<double> scoresOf(const Layer& layer, Importance importance, const std::vector<double>& norms) {
  const Tensor& w = layer.weight->tensor();
  const int64_t count = w.elementCount();
  std::vector<double> scores(static_cast<size_t>(count));
  const ReductionLayout& l = layer.layout;
  for (int64_t e = 0; e < count; ++e) {
    const double v = elementAsDouble(w, e);
    double score = importance == Importance::kL2 ? v * v : std::fabs(v);
    if (importance == Importance::kWanda) {
      const int64_t o = e / (l.reduce * l.inner);
      const int64_t r = (e / l.inner) % l.reduce;
      score *= norms[static_cast<size_t>((o / layer.rows_per_group) * l.reduce + r)];
    }
    scores[static_cast<size_t>(e)] = score;
  }
  return scores;
}

// The weight with the marked elements set to +0 (all bytes zero in every float type).
Tensor applyMask(const Tensor& w, const std::vector<uint8_t>& mask) {
  uint8_t* data = nullptr;
  Tensor out = Tensor::uninitialized(w.dtype, w.shape, &data);
  std::memcpy(data, w.bytes(), w.byteSize());
  const size_t element = static_cast<size_t>(dtypeBits(w.dtype) / 8);
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) std::memset(data + i * element, 0, element);
  out.name = w.name;
  out.doc_string = w.doc_string;
  return out;
}

class PruneWeightsPass final : public Pass {
 public:
  explicit PruneWeightsPass(PruneWeightsOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "prune-weights"; }
  Expected<PassResult> run(Model& model, PassContext& context) override;

 private:
  void selectLayers(std::vector<Layer>& layers) const;
  Status measureActivations(const Model& model, PassContext& context, std::vector<Layer*>& chosen,
                            std::vector<std::vector<double>>& norms) const;
  PassResult report(const std::vector<Layer>& layers) const;
  PruneWeightsOptions options_;
};

void PruneWeightsPass::selectLayers(std::vector<Layer>& layers) const {
  std::vector<Layer*> prunable;
  for (Layer& layer : layers)
    if (layer.skip_reason.empty()) prunable.push_back(&layer);
  // A weight used by several layers is pruned once, through the first of them.
  for (size_t i = 0; i < prunable.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (prunable[j]->weight->value == prunable[i]->weight->value && prunable[j]->skip_reason.empty()) {
        prunable[i]->skip_reason = "weight shared with " + prunable[j]->name + " (pruned there)";
        break;
      }
  std::erase_if(prunable, [](const Layer* l) { return !l->skip_reason.empty(); });
  if (!options_.prune_first_last && !prunable.empty()) {
    // The first layer sees raw inputs and the last one makes the outputs: both are small and
    // sensitive, so pruning them costs much accuracy for few parameters.
    prunable.front()->skip_reason = "first layer (kept by default; --prune-first-last or prune_first_last=true prunes it)";
    prunable.back()->skip_reason = "last layer (kept by default; --prune-first-last or prune_first_last=true prunes it)";
  }
  for (Layer* layer : prunable) {
    if (!layer->skip_reason.empty()) continue;
    for (const std::string& pattern : options_.exclude)
      if (globMatch(pattern, layer->node->name) || globMatch(pattern, layer->node->op_type)) {
        layer->skip_reason = "excluded by pattern '" + pattern + "'";
        break;
      }
    if (layer->skip_reason.empty() && options_.nm && layer->nm_run % options_.m != 0)
      layer->skip_reason = "input features per group (" + std::to_string(layer->nm_run) + ") not a multiple of m=" +
                           std::to_string(options_.m);
  }
}

Status PruneWeightsPass::measureActivations(const Model& model, PassContext& context, std::vector<Layer*>& chosen,
                                            std::vector<std::vector<double>>& norms) const {
  if (context.data == nullptr)
    return invalidArgument("prune-weights: importance=wanda needs calibration data (--data)");
  std::vector<FeatureProbe> probes;
  for (const Layer* layer : chosen) probes.push_back({layer->activation, layer->activation_axis, layer->features});
  ActivationNormOptions options;
  options.samples = options_.samples;
  options.batch_size = options_.batch_size;
  options.threads = context.threads;
  if (context.progress) options.progress = [&context](int64_t done, int64_t total) { context.progress("calibration", done, total); };
  NNC_ASSIGN_OR_RETURN(norms, activationFeatureNorms(model, probes, *context.data, options));
  for (size_t i = 0; i < chosen.size(); ++i)
    if (norms[i].empty()) chosen[i]->skip_reason = "input activation not observed in the calibration runs";
  return Status::ok();
}

Expected<PassResult> PruneWeightsPass::run(Model& model, PassContext& context) {
  std::vector<Layer> layers;
  int64_t node_index = 0;
  NNC_RETURN_IF_ERROR(collectLayers(*model.graph, layers, node_index));
  selectLayers(layers);
  std::vector<Layer*> chosen;
  for (Layer& layer : layers)
    if (layer.skip_reason.empty()) chosen.push_back(&layer);
  if (chosen.empty())
    return invalidArgument("prune-weights: no layer left to prune (" + std::to_string(layers.size()) +
                           " Conv/ConvTranspose/Gemm/MatMul layers; the first and last are kept unless prune_first_last=true)");
  std::vector<std::vector<double>> norms(chosen.size());
  if (options_.importance == Importance::kWanda) NNC_RETURN_IF_ERROR(measureActivations(model, context, chosen, norms));

  std::vector<std::vector<double>> scores;
  std::vector<Layer*> scored;
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (!chosen[i]->skip_reason.empty()) continue;
    scores.push_back(scoresOf(*chosen[i], options_.importance, norms[i]));
    scored.push_back(chosen[i]);
  }
  std::vector<std::vector<uint8_t>> masks(scored.size());
  if (options_.nm) {
    for (size_t i = 0; i < scored.size(); ++i) masks[i] = nmMask(scores[i], scored[i]->layout, options_.n, options_.m);
  } else if (options_.scope == Scope::kOutput) {
    for (size_t i = 0; i < scored.size(); ++i) {
      const int64_t k = std::llround(options_.sparsity * static_cast<double>(scored[i]->output_groups.reduce));
      masks[i] = perOutputMask(scores[i], scored[i]->output_groups, k);
    }
  } else if (options_.scope == Scope::kGlobal) {
    std::vector<const std::vector<double>*> all;
    int64_t total = 0;
    for (const auto& s : scores) {
      all.push_back(&s);
      total += static_cast<int64_t>(s.size());
    }
    masks = lowestScoring(all, std::llround(options_.sparsity * static_cast<double>(total)));
  } else {
    for (size_t i = 0; i < scored.size(); ++i) {
      const int64_t k = std::llround(options_.sparsity * static_cast<double>(scores[i].size()));
      masks[i] = std::move(lowestScoring({&scores[i]}, k).front());
    }
  }
  for (Layer& layer : layers)
    if (layer.weight && isFloatWeight(layer.weight->tensor().dtype)) layer.zeros_before = layer.zeros_after = countZeros(layer.weight->tensor());
  for (size_t i = 0; i < scored.size(); ++i) {
    Layer& layer = *scored[i];
    Tensor pruned = applyMask(layer.weight->tensor(), masks[i]);
    layer.zeros_after = countZeros(pruned);
    layer.weight->replace(std::move(pruned));
    spdlog::debug("prune-weights: {} sparsity {:.3f} -> {:.3f}", layer.name,
                  static_cast<double>(layer.zeros_before) / static_cast<double>(masks[i].size()),
                  static_cast<double>(layer.zeros_after) / static_cast<double>(masks[i].size()));
  }
  return report(layers);
}

PassResult PruneWeightsPass::report(const std::vector<Layer>& layers) const {
  PassResult result;
  auto& stats = result.stats;
  stats["granularity"] = options_.nm ? "n:m" : "weight";
  if (options_.nm) stats["nm"] = std::to_string(options_.n) + ":" + std::to_string(options_.m);
  static const char* kImportance[] = {"l1", "l2", "wanda"};
  stats["importance"] = kImportance[static_cast<int>(options_.importance)];
  static const char* kScope[] = {"layer", "global", "output"};
  stats["scope"] = kScope[static_cast<int>(options_.scope)];
  stats["target_sparsity"] = options_.nm ? 1.0 - static_cast<double>(options_.n) / static_cast<double>(options_.m) : options_.sparsity;
  int64_t elements = 0, zeros_before = 0, zeros_after = 0, pruned_layers = 0;
  auto& rows = stats["layers"] = nlohmann::ordered_json::array();
  for (const Layer& layer : layers) {
    nlohmann::ordered_json row;
    row["name"] = layer.name;
    row["op"] = layer.node->op_type;
    if (layer.weight) {
      const Tensor& w = layer.weight->tensor();
      row["weight"] = layer.weight->value->name();
      row["shape"] = w.shape;
      const int64_t n = isFloatWeight(w.dtype) ? w.elementCount() : 0;
      row["elements"] = n;
      row["sparsity_before"] = n > 0 ? static_cast<double>(layer.zeros_before) / static_cast<double>(n) : 0.0;
      row["sparsity_after"] = n > 0 ? static_cast<double>(layer.zeros_after) / static_cast<double>(n) : 0.0;
      if (layer.skip_reason.empty()) {
        elements += n;
        zeros_before += layer.zeros_before;
        zeros_after += layer.zeros_after;
        ++pruned_layers;
      }
    }
    row["pruned"] = layer.skip_reason.empty();
    if (!layer.skip_reason.empty()) row["reason"] = layer.skip_reason;
    rows.push_back(std::move(row));
  }
  stats["layers_pruned"] = pruned_layers;
  stats["layers_kept"] = static_cast<int64_t>(layers.size()) - pruned_layers;
  stats["pruned_weight_elements"] = elements;
  stats["pruned_weights_sparsity_before"] = elements > 0 ? static_cast<double>(zeros_before) / static_cast<double>(elements) : 0.0;
  stats["pruned_weights_sparsity_after"] = elements > 0 ? static_cast<double>(zeros_after) / static_cast<double>(elements) : 0.0;
  result.changed = zeros_after != zeros_before;
  char text[160];
  std::snprintf(text, sizeof text, "%lld of %zu layers pruned, their weights %.1f%% -> %.1f%% zeros",
                static_cast<long long>(pruned_layers), layers.size(), 100.0 * stats["pruned_weights_sparsity_before"].get<double>(),
                100.0 * stats["pruned_weights_sparsity_after"].get<double>());
  result.summary = text;
  return result;
}

Expected<PruneWeightsOptions> parseOptions(const PassSpec& spec) {
  PassOptions options(spec);
  PruneWeightsOptions o;
  const std::string granularity = options.text("granularity", "weight");
  if (granularity == "n:m") o.nm = true;
  else if (granularity != "weight") return invalidArgument("prune-weights: granularity=" + granularity + " must be weight or n:m");
  NNC_ASSIGN_OR_RETURN(o.n, options.integer("n", 2));
  NNC_ASSIGN_OR_RETURN(o.m, options.integer("m", 4));
  if (o.nm && (o.m < 1 || o.n < 0 || o.n >= o.m))
    return invalidArgument("prune-weights: n:m needs 0 <= n < m (got " + std::to_string(o.n) + ":" + std::to_string(o.m) + ")");
  NNC_ASSIGN_OR_RETURN(double sparsity, options.number("sparsity", std::numeric_limits<double>::quiet_NaN()));
  if (o.nm) {
    // N:M fixes the sparsity; a sparsity that says otherwise is a mistake worth reporting.
    const double implied = 1.0 - static_cast<double>(o.n) / static_cast<double>(o.m);
    if (!std::isnan(sparsity) && std::fabs(sparsity - implied) > 1e-6)
      return invalidArgument("prune-weights: granularity n:m with n=" + std::to_string(o.n) + " m=" + std::to_string(o.m) +
                             " makes the sparsity " + std::to_string(implied) + ", not " + spec.options.at("sparsity"));
    o.sparsity = implied;
  } else {
    if (std::isnan(sparsity)) return invalidArgument("prune-weights: option sparsity is required (a fraction in [0, 1))");
    if (!(sparsity >= 0 && sparsity < 1)) return invalidArgument("prune-weights: sparsity must be in [0, 1)");
    o.sparsity = sparsity;
  }
  const std::string importance = options.text("importance", "l1");
  if (importance == "l1") o.importance = Importance::kL1;
  else if (importance == "l2") o.importance = Importance::kL2;
  else if (importance == "wanda") o.importance = Importance::kWanda;
  else return invalidArgument("prune-weights: importance=" + importance + " must be l1, l2 or wanda");
  const std::string scope = options.text("scope", "layer");
  if (scope == "layer") o.scope = Scope::kLayer;
  else if (scope == "global") o.scope = Scope::kGlobal;
  else if (scope == "output") o.scope = Scope::kOutput;
  else return invalidArgument("prune-weights: scope=" + scope + " must be layer, global or output");
  const std::string exclude = options.text("exclude", "");
  for (size_t start = 0; start < exclude.size();) {
    size_t end = exclude.find('+', start);
    if (end == std::string::npos) end = exclude.size();
    if (end > start) o.exclude.push_back(exclude.substr(start, end - start));
    start = end + 1;
  }
  NNC_ASSIGN_OR_RETURN(o.prune_first_last, options.flag("prune_first_last", false));
  NNC_ASSIGN_OR_RETURN(o.samples, options.integer("samples", 0));
  NNC_ASSIGN_OR_RETURN(o.batch_size, options.integer("batch_size", 32));
  if (o.samples < 0 || o.batch_size < 1) return invalidArgument("prune-weights: samples must be >= 0 and batch_size >= 1");
  NNC_RETURN_IF_ERROR(options.checkNoUnknownOptions());
  return o;
}

}  // namespace

Expected<std::unique_ptr<Pass>> createPruneWeightsPass(const PassSpec& spec) {
  NNC_ASSIGN_OR_RETURN(PruneWeightsOptions options, parseOptions(spec));
  return std::unique_ptr<Pass>(std::make_unique<PruneWeightsPass>(std::move(options)));
}

}  // namespace nnc

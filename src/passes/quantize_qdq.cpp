// QDQ rewriting for static int8 quantization (see include/nncompress/passes/quantize.h).
// Three steps over the main graph, in stored (topological) order:
//   1. plan: which nodes are quantized and which values they need quantized;
//   2. merge: Relu/Clip whose output only quantized nodes read are removed, their input takes
//      their range (QuantizeLinear's clamp does the activation);
//   3. rewrite: Q/DQ pairs after each quantized activation (one pair per value, shared by its
//      quantized readers), int8/int32 constants behind DequantizeLinear for weights and biases.
#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <limits>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "nncompress/passes/quantize.h"
#include "passes/opset_upgrade.h"
#include "quant_math.h"

namespace nnc {
namespace {

// How an op is quantized.
enum class Kind {
  kCompute,    // its own output range; constants become int8 (weights) / int32 (bias)
  kSameScale,  // input quantized from its range, output shares it (values are a subset)
  kShape,      // quantized only when its input already is; output shares the input's scale
};

struct OpRule {
  const char* op;
  Kind kind;
  int weight_input;  // input whose constant is quantized per channel (-1: none)
  int bias_input;    // input quantized to int32 with scale s_x * s_w (-1: none)
};

constexpr OpRule kRules[] = {
    {"Conv", Kind::kCompute, 1, 2},
    {"ConvTranspose", Kind::kCompute, 1, 2},
    {"Gemm", Kind::kCompute, 1, 2},
    {"MatMul", Kind::kCompute, 1, -1},
    {"Add", Kind::kCompute, -1, -1},
    {"Mul", Kind::kCompute, -1, -1},
    {"Concat", Kind::kCompute, -1, -1},
    {"AveragePool", Kind::kCompute, -1, -1},
    {"GlobalAveragePool", Kind::kCompute, -1, -1},
    {"MaxPool", Kind::kSameScale, -1, -1},
    {"GlobalMaxPool", Kind::kSameScale, -1, -1},
    {"Resize", Kind::kSameScale, -1, -1},
    {"Reshape", Kind::kShape, -1, -1},
    {"Flatten", Kind::kShape, -1, -1},
    {"Transpose", Kind::kShape, -1, -1},
    {"Squeeze", Kind::kShape, -1, -1},
    {"Unsqueeze", Kind::kShape, -1, -1},
    {"Slice", Kind::kShape, -1, -1},
    {"Gather", Kind::kShape, -1, -1},
    {"Expand", Kind::kShape, -1, -1},
    {"Tile", Kind::kShape, -1, -1},
    {"DepthToSpace", Kind::kShape, -1, -1},
    {"SpaceToDepth", Kind::kShape, -1, -1},
};

// Names of new values derive from the value they quantize ("x" -> "x_q", "x_dq", "x_scale").
// Short suffixes and unnamed Q/DQ nodes: on small models, names are a visible part of the file.
constexpr const char* kQuantizedSuffix = "_q";
constexpr const char* kDequantizedSuffix = "_dq";

bool isDefaultDomain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

const OpRule* findRule(const Node& n) {
  if (!isDefaultDomain(n)) return nullptr;
  for (const OpRule& r : kRules)
    if (n.op_type == r.op) return &r;
  return nullptr;
}

// Input slots holding the float data an op computes on (the others are shapes, indices, ...).
std::vector<size_t> dataInputs(const Node& n, const OpRule& rule) {
  if (rule.kind == Kind::kCompute) {
    std::vector<size_t> slots;
    const size_t count = n.op_type == "Concat" ? n.inputs().size()
                         : (n.op_type == "AveragePool" || n.op_type == "GlobalAveragePool") ? 1
                                                                                             : 2;
    for (size_t i = 0; i < count && i < n.inputs().size(); ++i) slots.push_back(i);
    return slots;
  }
  return {0};
}

bool isUsed(const Value* v) { return v != nullptr && (!v->uses().empty() || v->isGraphOutput()); }

// The per-channel axis of a weight for its consumer, or -1 for per-tensor.
int64_t weightAxis(const Node& n, const Tensor& w, bool per_channel) {
  if (!per_channel) return -1;
  const int64_t rank = static_cast<int64_t>(w.shape.size());
  if (n.op_type == "Conv") return rank >= 2 ? 0 : -1;
  if (n.op_type == "ConvTranspose") return rank >= 2 && n.attrInt("group", 1) == 1 ? 1 : -1;  // [C, M/g, ...]
  if (n.op_type == "Gemm") return rank == 2 ? (n.attrInt("transB", 0) != 0 ? 0 : 1) : -1;
  if (n.op_type == "MatMul") return rank >= 2 ? rank - 1 : -1;
  return -1;
}

class QdqRewriter {
 public:
  QdqRewriter(Model& model, const ActivationRanges& ranges, const QuantizeOptions& options)
      : graph_(*model.graph), model_(model), ranges_(ranges), options_(options) {
    patterns_ = options.exclude;
    patterns_.insert(patterns_.end(), ranges.float_nodes.begin(), ranges.float_nodes.end());
  }

  Expected<PassResult> run() {
    plan();
    mergeActivations();
    planSharedScales();
    NNC_RETURN_IF_ERROR(rewrite());
    removeDeadConstants();
    return result();
  }

 private:
  // ---- 1. plan ---------------------------------------------------------------------------------
  std::optional<Range> rangeOf(const Value* v) const {
    auto it = range_override_.find(v);
    if (it != range_override_.end()) return it->second;
    const ValueRange* r = ranges_.find(v->name());
    if (r == nullptr) return std::nullopt;
    return Range{r->min, r->max};
  }

  void skip(const Node& n, const std::string& reason) {
    skipped_.push_back({n.describe(), reason});
    spdlog::debug("quantize: {} stays float: {}", n.describe(), reason);
  }

  void plan() {
    for (Node* n : graph_.nodes()) {
      const OpRule* rule = findRule(*n);
      if (rule == nullptr || rule->kind == Kind::kShape) continue;
      if (matchesAnyPattern(*n, patterns_)) {
        skip(*n, "excluded");
        continue;
      }
      if (n->op_type == "MaxPool" && isUsed(n->output(1))) {
        skip(*n, "its indices output is used");
        continue;
      }
      std::string why;
      for (size_t slot : dataInputs(*n, *rule)) {
        const Value* v = n->input(slot);
        if (v == nullptr) continue;
        auto c = constantRefOf(const_cast<Value*>(v));
        if (c) {
          if (rule->kind != Kind::kCompute) why = "input '" + v->name() + "' is a constant";
          else if (c->tensor().dtype != DType::kFloat) why = "constant '" + v->name() + "' is not float32";
        } else if (!rangeOf(v)) {
          why = "no range for input '" + v->name() + "' (not float32, or not in the ranges)";
        }
        if (!why.empty()) break;
      }
      if (!why.empty()) {
        skip(*n, why);
        continue;
      }
      quantized_.insert(n);
      for (size_t slot : dataInputs(*n, *rule)) {
        const Value* v = n->input(slot);
        if (v != nullptr && !constantRefOf(const_cast<Value*>(v))) requested_.insert(v);
      }
    }
  }

  // ---- 2. merge Relu/Clip ----------------------------------------------------------------------
  // The [low, high] an activation node clamps to, if it is a Relu or a Clip with constant bounds.
  std::optional<std::pair<double, double>> clampBounds(const Node& n) const {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    if (n.op_type == "Relu") return std::make_pair(0.0, kInf);
    if (n.op_type != "Clip") return std::nullopt;
    if (model_.opsetVersion("") < 11) return std::make_pair(static_cast<double>(n.attrFloat("min", -3.4028234663852886e38f)),
                                                            static_cast<double>(n.attrFloat("max", 3.4028234663852886e38f)));
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

  // Whether every reader of `v` is a planned quantized node reading it as data, or a shape op
  // that will be quantized because `v` is.
  bool onlyQuantizedReaders(const Value* v) const {
    if (v->isGraphOutput() || v->uses().empty() || !requested_.count(v)) return false;
    for (const Value::Use& use : v->uses()) {
      const OpRule* rule = findRule(*use.node);
      if (rule == nullptr || (use.input_index != 0 && rule->kind != Kind::kCompute)) return false;
      if (rule->kind == Kind::kShape) {
        if (matchesAnyPattern(*use.node, patterns_)) return false;
        continue;
      }
      if (!quantized_.count(use.node)) return false;
      const auto slots = dataInputs(*use.node, *rule);
      if (std::find(slots.begin(), slots.end(), use.input_index) == slots.end()) return false;
    }
    return true;
  }

  void mergeActivations() {
    for (Node* act : graph_.nodes()) {
      if (!isDefaultDomain(*act) || (act->op_type != "Relu" && act->op_type != "Clip")) continue;
      if (matchesAnyPattern(*act, patterns_)) continue;
      Value* y = act->output(0);
      Value* x = act->input(0);
      if (x == nullptr || y == nullptr || x->graph() != &graph_ || x->isGraphOutput() || x->uses().size() != 1) continue;
      if (constantRefOf(x) || !onlyQuantizedReaders(y)) continue;
      auto bounds = clampBounds(*act);
      auto range = rangeOf(y);
      if (!bounds || !range) continue;
      // The clamp is exact in QuantizeLinear only if the representable interval lies inside
      // the bounds (to half a step, below which rounding lands on the same level anyway).
      const quant::ActivationParams p = quant::activationParams(range->min, range->max, options_.activation_type);
      double low = 0, high = 0;
      quant::representableRange(p, &low, &high);
      const double tolerance = 0.5 * p.scale;
      if (low < bounds->first - tolerance || high > bounds->second + tolerance) continue;
      for (size_t i = 1; i < act->inputs().size(); ++i)
        if (act->input(i) != nullptr) maybe_dead_.push_back(act->input(i));
      range_override_[x] = *range;
      requested_.erase(y);
      requested_.insert(x);
      graph_.replaceAllUsesWith(y, x);
      graph_.eraseNode(act);
      graph_.eraseValue(y);
      ++merged_;
    }
  }

  // ---- 2b. shared scales -----------------------------------------------------------------------
  void planSharedScales() {
    for (Node* n : graph_.nodes()) {
      const OpRule* rule = findRule(*n);
      if (rule == nullptr || n->output(0) == nullptr) continue;
      if (rule->kind == Kind::kSameScale && quantized_.count(n)) {
        shared_from_[n->output(0)] = n->input(0);
      } else if (rule->kind == Kind::kShape) {
        const Value* in = n->input(0);
        if (in == nullptr || (!requested_.count(in) && !shared_from_.count(in))) continue;
        if (matchesAnyPattern(*n, patterns_)) {
          skip(*n, "excluded");
          continue;
        }
        quantized_.insert(n);
        shared_from_[n->output(0)] = in;
      }
    }
  }

  // ---- 3. rewrite ------------------------------------------------------------------------------
  struct ActivationQ {
    quant::ActivationParams params;
    Value* scale;
    Value* zero_point;
  };

  Value* addInitializer(const std::string& hint, Tensor tensor) {
    Value* v = graph_.addValue(hint);
    graph_.setInitializer(v, std::move(tensor));
    return v;
  }

  // Parameters (and their initializers) of a value, following shared scales to their origin.
  Expected<const ActivationQ*> activationQ(const Value* v) {
    const Value* root = v;
    for (auto it = shared_from_.find(root); it != shared_from_.end(); it = shared_from_.find(root)) root = it->second;
    auto found = params_.find(root);
    if (found != params_.end()) return &found->second;
    auto range = rangeOf(root);
    if (!range) return invalidArgument("no range for value '" + root->name() + "'");
    ActivationQ q;
    q.params = quant::activationParams(range->min, range->max, options_.activation_type);
    q.scale = addInitializer(root->name() + "_scale", Tensor::fromValues<float>(DType::kFloat, {}, {q.params.scale}));
    q.zero_point = zeroPoint(q.params);
    return &params_.emplace(root, q).first->second;
  }

  // One zero-point initializer per (type, value), shared by all activations that use it: most
  // activations (ReLU outputs) share zero point 0, and a per-value copy would cost more file
  // bytes than its one byte of data.
  Value* zeroPoint(const quant::ActivationParams& p) {
    const bool is_uint8 = p.type == DType::kUInt8;
    auto key = std::make_pair(is_uint8, p.zero_point);
    auto it = zero_points_.find(key);
    if (it != zero_points_.end()) return it->second;
    const std::string hint = std::string("zero_point_") + (is_uint8 ? "u8_" : "i8_") + std::to_string(p.zero_point);
    Value* v = is_uint8 ? addInitializer(hint, Tensor::fromValues<uint8_t>(DType::kUInt8, {}, {static_cast<uint8_t>(p.zero_point)}))
                        : addInitializer(hint, Tensor::fromValues<int8_t>(DType::kInt8, {}, {static_cast<int8_t>(p.zero_point)}));
    zero_points_.emplace(key, v);
    return v;
  }

  Node* insertNode(Node* before, const char* op, const std::vector<Value*>& inputs, Value* output) {
    Node* n = graph_.insertNodeBefore(before, op);
    for (Value* in : inputs) graph_.appendNodeInput(n, in);
    graph_.appendNodeOutput(n, output);
    return n;
  }

  void setAxis(Node* dq, int64_t axis) {
    Attribute a;
    a.name = "axis";
    a.type = AttrType::kInt;
    a.i = axis;
    dq->attributes.push_back(std::move(a));
  }

  // The dequantized form of activation `v` (one Q/DQ pair per value), inserted before `before`.
  Expected<Value*> dequantizedActivation(Value* v, Node* before) {
    auto it = dq_of_.find(v);
    if (it != dq_of_.end()) return it->second;
    NNC_ASSIGN_OR_RETURN(const ActivationQ* q, activationQ(v));
    Value* quantized = graph_.addValue(v->name() + kQuantizedSuffix);
    Value* dequantized = graph_.addValue(v->name() + kDequantizedSuffix);
    insertNode(before, "QuantizeLinear", {v, q->scale, q->zero_point}, quantized);
    insertNode(before, "DequantizeLinear", {quantized, q->scale, q->zero_point}, dequantized);
    ++qdq_pairs_;
    dq_of_.emplace(v, dequantized);
    return dequantized;
  }

  struct WeightDq {
    Value* value;
    std::vector<float> scales;
  };

  // An int8 copy of a float constant behind a DequantizeLinear (zero point 0, input omitted).
  WeightDq dequantizedWeight(Value* w, int64_t axis, Node* before) {
    const auto key = std::make_pair(static_cast<const Value*>(w), axis);
    auto it = weight_dq_.find(key);
    if (it != weight_dq_.end()) return it->second;
    auto ref = constantRefOf(w);
    NNC_ENFORCE(ref.has_value(), "weight must be a constant");
    quant::QuantizedWeight q = quant::quantizeWeight(ref->tensor(), axis, options_.reduce_range ? 63 : 127);
    Value* values = addInitializer(w->name() + kQuantizedSuffix, std::move(q.values));
    std::vector<int64_t> scale_shape;
    if (axis >= 0) scale_shape.push_back(static_cast<int64_t>(q.scales.size()));
    Value* scale = addInitializer(w->name() + "_scale", Tensor::fromValues<float>(DType::kFloat, scale_shape, q.scales));
    Value* out = graph_.addValue(w->name() + kDequantizedSuffix);
    Node* dq = insertNode(before, "DequantizeLinear", {values, scale}, out);
    if (axis >= 0) setAxis(dq, axis);
    maybe_dead_.push_back(w);
    renames_.emplace_back(w, out);
    ++weights_;
    weight_bytes_before_ += ref->tensor().byteSize();
    WeightDq result{out, q.scales};
    weight_dq_.emplace(key, result);
    return result;
  }

  // The int32 bias behind a DequantizeLinear, or nullptr when it cannot be quantized exactly
  // as an integer kernel would add it (then it stays float).
  Value* dequantizedBias(const Node& n, Value* b, float input_scale, const WeightDq& w, Node* before) {
    auto ref = constantRefOf(b);
    if (!ref || ref->tensor().dtype != DType::kFloat || ref->tensor().shape.size() != 1) return nullptr;
    if (n.op_type == "Gemm" && (n.attrFloat("alpha", 1) != 1 || n.attrFloat("beta", 1) != 1)) return nullptr;
    const int64_t length = ref->tensor().shape[0];
    if (w.scales.size() != 1 && static_cast<int64_t>(w.scales.size()) != length) return nullptr;
    quant::QuantizedBias q = quant::quantizeBias(ref->tensor(), input_scale, w.scales);
    if (q.clipped > 0) spdlog::warn("quantize: {}: {} bias values saturate int32", n.describe(), q.clipped);
    Value* values = addInitializer(b->name() + kQuantizedSuffix, std::move(q.values));
    std::vector<int64_t> scale_shape;
    if (q.scales.size() > 1) scale_shape.push_back(static_cast<int64_t>(q.scales.size()));
    Value* scale = addInitializer(b->name() + "_scale", Tensor::fromValues<float>(DType::kFloat, scale_shape, q.scales));
    Value* out = graph_.addValue(b->name() + kDequantizedSuffix);
    Node* dq = insertNode(before, "DequantizeLinear", {values, scale}, out);
    if (q.scales.size() > 1) setAxis(dq, 0);
    maybe_dead_.push_back(b);
    renames_.emplace_back(b, out);
    ++biases_;
    weight_bytes_before_ += ref->tensor().byteSize();
    return out;
  }

  Status rewrite() {
    for (Node* n : graph_.nodes()) {
      if (!quantized_.count(n)) continue;
      const OpRule* rule = findRule(*n);
      ++quantized_ops_[n->op_type];
      const ActivationQ* input_q = nullptr;  // of input 0, for the bias scale
      std::optional<WeightDq> weight;
      for (size_t slot : dataInputs(*n, *rule)) {
        Value* v = n->input(slot);
        if (v == nullptr) continue;
        if (auto c = constantRefOf(v)) {
          const int64_t axis = static_cast<int>(slot) == rule->weight_input ? weightAxis(*n, c->tensor(), options_.per_channel) : -1;
          WeightDq dq = dequantizedWeight(v, axis, n);
          if (static_cast<int>(slot) == rule->weight_input) weight = dq;
          graph_.setNodeInput(n, slot, dq.value);
        } else {
          if (slot == 0) {
            NNC_ASSIGN_OR_RETURN(input_q, activationQ(v));
          }
          NNC_ASSIGN_OR_RETURN(Value * dq, dequantizedActivation(v, n));
          graph_.setNodeInput(n, slot, dq);
        }
      }
      if (rule->bias_input >= 0 && weight && input_q != nullptr && n->input(static_cast<size_t>(rule->bias_input)) != nullptr) {
        const size_t slot = static_cast<size_t>(rule->bias_input);
        Value* bias = dequantizedBias(*n, n->input(slot), input_q->params.scale, *weight, n);
        if (bias != nullptr) graph_.setNodeInput(n, slot, bias);
      }
    }
    return Status::ok();
  }

  // Float weights, biases and Clip bounds that nothing reads any more. A removed weight's
  // name passes to its DequantizeLinear output, so the quantized node reads the same name.
  void removeDeadConstants() {
    std::unordered_set<const Value*> erased;
    for (Value* v : maybe_dead_) {
      if (v == nullptr || erased.count(v) || isUsed(v) || v->isGraphInput()) continue;
      if (v->initializer() != nullptr) {
        graph_.removeInitializer(v);
      } else if (v->producer() != nullptr && v->producer()->op_type == "Constant") {
        graph_.eraseNode(v->producer());
      } else {
        continue;
      }
      const std::string name = v->name();
      graph_.eraseValue(v);
      erased.insert(v);
      for (const auto& [from, to] : renames_) {
        if (from != v) continue;
        // The first dequantized copy takes the name (a weight quantized along two axes for two
        // readers has two copies; the second keeps its suffix).
        NNC_ENFORCE(graph_.renameValue(to, name).isOk(), "renaming to a freed name");
        break;
      }
    }
    maybe_dead_.clear();
  }

  PassResult result() const {
    PassResult r;
    int64_t nodes = 0;
    std::string by_op;
    nlohmann::ordered_json ops = nlohmann::ordered_json::object();
    for (const auto& [op, count] : quantized_ops_) {
      nodes += count;
      ops[op] = count;
      by_op += (by_op.empty() ? "" : ", ") + op + " " + std::to_string(count);
    }
    r.changed = nodes > 0 || merged_ > 0;
    r.stats["quantized_nodes"] = nodes;
    r.stats["quantized_by_op"] = ops;
    r.stats["merged_activations"] = merged_;
    r.stats["qdq_pairs"] = qdq_pairs_;
    r.stats["weights"] = weights_;
    r.stats["biases"] = biases_;
    r.stats["float_bytes_quantized"] = weight_bytes_before_;
    nlohmann::ordered_json skipped = nlohmann::ordered_json::array();
    for (const auto& [node, reason] : skipped_) skipped.push_back({{"node", node}, {"reason", reason}});
    r.stats["kept_float"] = skipped;
    r.summary = "quantized " + std::to_string(nodes) + " nodes" + (by_op.empty() ? "" : " (" + by_op + ")") + ", merged " +
                std::to_string(merged_) + " Relu/Clip, " + std::to_string(qdq_pairs_) + " Q/DQ pairs, " +
                std::to_string(skipped_.size()) + " quantizable nodes kept float";
    return r;
  }

  Graph& graph_;
  Model& model_;
  const ActivationRanges& ranges_;
  const QuantizeOptions& options_;
  std::vector<std::string> patterns_;
  // Lookup-only sets and maps: nothing iterates them, so their order never reaches the output.
  std::unordered_set<const Node*> quantized_;
  std::unordered_set<const Value*> requested_;
  std::unordered_map<const Value*, const Value*> shared_from_;
  std::unordered_map<const Value*, Range> range_override_;
  std::unordered_map<const Value*, ActivationQ> params_;
  std::unordered_map<const Value*, Value*> dq_of_;
  std::map<std::pair<const Value*, int64_t>, WeightDq> weight_dq_;
  std::vector<Value*> maybe_dead_;
  std::vector<std::pair<const Value*, Value*>> renames_;  // float constant -> its DQ output
  std::map<std::pair<bool, int32_t>, Value*> zero_points_;
  std::vector<std::pair<std::string, std::string>> skipped_;
  std::map<std::string, int64_t> quantized_ops_;  // sorted: stable statistics
  int64_t merged_ = 0, qdq_pairs_ = 0, weights_ = 0, biases_ = 0;
  uint64_t weight_bytes_before_ = 0;
};

}  // namespace

bool isQuantizableOp(const Node& node) {
  const OpRule* rule = findRule(node);
  return rule != nullptr && rule->kind != Kind::kShape;
}

bool matchesAnyPattern(const Node& node, const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns) {
    if (!node.name.empty() && fnmatch(p.c_str(), node.name.c_str(), 0) == 0) return true;
    if (fnmatch(p.c_str(), node.op_type.c_str(), 0) == 0) return true;
  }
  return false;
}

Expected<PassResult> quantizeQdq(Model& model, const ActivationRanges& ranges, const QuantizeOptions& options) {
  if (options.activation_type != DType::kUInt8 && options.activation_type != DType::kInt8)
    return invalidArgument("quantize: activations must be uint8 or int8");
  // QuantizeLinear needs opset 10 and per-channel weights DequantizeLinear's axis (13). Older
  // models are raised to what is needed when that changes no op's meaning (opset_upgrade.h).
  const int64_t opset = model.opsetVersion("");
  const int64_t needed = options.per_channel ? 13 : 10;
  int64_t upgraded_nodes = 0;
  if (opset < needed) {
    const int64_t target = options.per_channel ? 13 : 11;
    Status upgraded = upgradeOpset(model, target, &upgraded_nodes);
    if (!upgraded.isOk())
      return unsupported("quantize: " + std::string(options.per_channel ? "per-channel weights need" : "QuantizeLinear needs") +
                         " opset " + std::to_string(needed) + " but " + upgraded.message() +
                         (options.per_channel ? " (per-tensor weights need only opset 10)" : ""));
  }
  QdqRewriter rewriter(model, ranges, options);
  NNC_ASSIGN_OR_RETURN(PassResult result, rewriter.run());
  if (opset < needed) {
    nlohmann::ordered_json upgrade;
    upgrade["from"] = opset;
    upgrade["to"] = model.opsetVersion("");
    upgrade["nodes_rewritten"] = upgraded_nodes;
    result.stats["opset_upgrade"] = upgrade;
    result.summary += ", opset " + std::to_string(opset) + " -> " + std::to_string(model.opsetVersion(""));
  }
  return result;
}

}  // namespace nnc

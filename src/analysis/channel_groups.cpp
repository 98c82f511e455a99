// Channel dependency analysis (see channel_groups.h). One forward walk over the main graph in
// topological order gives every understood tensor a channel axis and one slot per position;
// the per-op rules below (a table keyed by ONNX op type: producers, consumers, pass-through,
// coupling, index maps) merge slots with a union-find. Slots merged together form a coupled
// channel. A rule that does not understand a use of a tracked tensor locks its slots instead.
// Default-domain ops only; every opset whose attributes/inputs the rules read is handled
// (axes as attribute before opset 13/18, Split sizes as attribute before 13, Slice before 10).
#include "nncompress/analysis/channel_groups.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <unordered_map>

#include "nncompress/analysis/static_shapes.h"

namespace nnc {

std::string channelGroupKindName(ChannelGroup::Kind kind) {
  switch (kind) {
    case ChannelGroup::Kind::kChannel: return "channel";
    case ChannelGroup::Kind::kNeuron: return "neuron";
    case ChannelGroup::Kind::kHead: return "head";
  }
  return "?";
}

namespace {

// A tensor with a known channel axis: rank, axis, and one slot per position along the axis.
struct Tracked {
  int rank = 0;
  int axis = 0;
  std::vector<int64_t> slots;
};

// Reads a small integer constant (int64/int32) as int64 values.
std::optional<std::vector<int64_t>> intValues(Value* v) {
  auto c = constantRefOf(v);
  if (!c || v->isGraphInput()) return std::nullopt;
  const Tensor& t = c->tensor();
  std::vector<int64_t> out;
  if (t.dtype == DType::kInt64) out.assign(t.dataAs<int64_t>(), t.dataAs<int64_t>() + t.elementCount());
  else if (t.dtype == DType::kInt32) out.assign(t.dataAs<int32_t>(), t.dataAs<int32_t>() + t.elementCount());
  else return std::nullopt;
  return out;
}

std::optional<double> scalarValue(Value* v) {
  auto c = constantRefOf(v);
  if (!c || c->tensor().elementCount() != 1) return std::nullopt;
  const Tensor& t = c->tensor();
  switch (t.dtype) {
    case DType::kUInt8: return double(t.dataAs<uint8_t>()[0]);
    case DType::kInt8: return double(t.dataAs<int8_t>()[0]);
    case DType::kFloat: return double(t.dataAs<float>()[0]);
    default: return std::nullopt;
  }
}

const Tensor* constantTensor(Value* v) {
  if (v == nullptr || v->isGraphInput()) return nullptr;
  auto c = constantRefOf(v);
  return c ? &c->tensor() : nullptr;
}

bool isUsed(const Value* v) { return v != nullptr && (!v->uses().empty() || v->isGraphOutput()); }

int64_t product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= dims[i];
  return p;
}

class Builder {
 public:
  explicit Builder(Model& model) : model_(model), graph_(*model.graph), shapes_(StaticShapes::infer(model)) {}

  Expected<ChannelAnalysis> run() {
    auto order = graph_.topologicalOrder();
    if (!order) return order.status();
    for (Node* node : *order) visit(*node);
    for (Value* out : graph_.outputs())
      if (const Tracked* t = find(out)) lock(t->slots, "reaches graph output '" + out->name() + "'");
    for (Value* v : tracked_order_)
      for (const Value::Use& use : v->uses())
        if (use.node->graph() != &graph_) lock(tracked_.at(v).slots, "used inside a subgraph of " + use.node->describe());
    return finish();
  }

 private:
  // --- slots ------------------------------------------------------------------------------
  std::vector<int64_t> newSlots(int64_t count) {
    std::vector<int64_t> slots(static_cast<size_t>(count));
    for (auto& s : slots) {
      s = static_cast<int64_t>(parent_.size());
      parent_.push_back(s);
      head_.push_back(0);
    }
    return slots;
  }
  int64_t root(int64_t s) {
    while (parent_[s] != s) s = parent_[s] = parent_[parent_[s]];
    return s;
  }
  void unite(int64_t a, int64_t b) {
    a = root(a), b = root(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }
  void lock(const std::vector<int64_t>& slots, const std::string& reason) {
    for (int64_t s : slots) locks_.emplace_back(s, reason);
  }

  const Tracked* find(const Value* v) const {
    auto it = tracked_.find(v);
    return it == tracked_.end() ? nullptr : &it->second;
  }
  void track(Value* v, Tracked t) {
    if (v == nullptr) return;
    tracked_order_.push_back(v);
    tracked_[v] = std::move(t);
  }
  // The rank of a value: tracked, constant, or statically inferred.
  std::optional<int> rankOf(Value* v) const {
    if (const Tracked* t = find(v)) return t->rank;
    if (auto s = shapes_.of(v)) return static_cast<int>(s->size());
    return std::nullopt;
  }

  // Pending edits; committed only when a rule succeeds as a whole.
  struct Pending {
    std::vector<ChannelSlice> slices;  // channels hold slot ids until finish()
    std::vector<ChannelFixup> fixups;
  };
  void commit(Pending& p) {
    for (auto& s : p.slices) slices_.push_back(std::move(s));
    for (auto& f : p.fixups) fixups_.push_back(std::move(f));
  }
  void addSegment(const Node& producer, std::vector<int64_t> slots, ChannelGroup::Kind kind) {
    producers_.push_back({producer.describe(), const_cast<Node*>(&producer), std::move(slots), kind});
  }

  // --- the walk -----------------------------------------------------------------------------
  void visit(Node& n) {
    bool any_tracked = false;
    for (Value* in : n.inputs()) any_tracked |= find(in) != nullptr;
    const bool default_domain = n.domain.empty() || n.domain == "ai.onnx";
    bool ok = false;
    if (!default_domain) ok = false;
    else if (n.op_type == "Conv" || n.op_type == "ConvInteger") ok = visitConv(n);
    else if (n.op_type == "ConvTranspose") ok = visitConvTranspose(n);
    else if (n.op_type == "Gemm") ok = visitGemm(n);
    else if (n.op_type == "MatMul") ok = visitMatMul(n);
    else if (!any_tracked) ok = true;  // nothing of ours flows through
    else ok = visitPassOrCouple(n);
    if (!ok && any_tracked)
      for (Value* in : n.inputs())
        if (const Tracked* t = find(in)) lock(t->slots, "used by " + n.describe() + ", which the analysis does not understand here");
  }

  // Conv / ConvInteger: output channels are created here (weight axis 0, bias); input channels
  // are consumed (weight axis 1). Depthwise: output channel o is input channel o / multiplier.
  bool visitConv(Node& n) {
    const bool integer = n.op_type == "ConvInteger";
    Value* x = n.input(0);
    const Tensor* w = constantTensor(n.input(1));
    if (w == nullptr || w->shape.size() < 3) return false;
    const int64_t groups = n.attrInt("group", 1);
    const int64_t out_channels = w->shape[0];
    const Tracked* in = find(x);
    if (in != nullptr && in->axis != 1) return false;
    Pending p;
    std::vector<int64_t> out_slots;
    const int64_t in_channels = in ? static_cast<int64_t>(in->slots.size()) : -1;
    const int rank = static_cast<int>(w->shape.size());
    if (groups == 1) {
      if (in != nullptr) {
        if (w->shape[1] != in_channels) return false;
        p.slices.push_back({&n, 1, 1, in->slots, ChannelSlice::Role::kWeight, zeroPoint(n, integer)});
      }
      out_slots = newSlots(out_channels);
    } else if (in != nullptr && groups == in_channels && w->shape[1] == 1 && out_channels % groups == 0) {
      const int64_t multiplier = out_channels / groups;
      out_slots = multiplier == 1 ? in->slots : newSlots(out_channels);
      for (int64_t o = 0; o < out_channels && multiplier > 1; ++o) unite(out_slots[o], in->slots[o / multiplier]);
      ChannelFixup group_fix{&n, -1, "group", 0, in->slots, 1};
      p.fixups.push_back(group_fix);
    } else {
      // Grouped conv: every group must keep the same number of channels, so position p of each
      // group is one coupled channel (DepGraph does the same): weight axis 1 loses position p,
      // axis 0 loses position q of every output group; `group` stays.
      const int64_t per_in = w->shape[1];
      if (groups <= 1 || out_channels % groups != 0 || (in != nullptr && in_channels != groups * per_in)) return false;
      if (in != nullptr) {
        for (int64_t j = per_in; j < in_channels; ++j) unite(in->slots[j], in->slots[j % per_in]);
        p.slices.push_back({&n, 1, 1, {in->slots.begin(), in->slots.begin() + per_in}, ChannelSlice::Role::kWeight,
                            zeroPoint(n, integer)});
      }
      out_slots = newSlots(out_channels);
      const int64_t per_out = out_channels / groups;
      for (int64_t o = per_out; o < out_channels; ++o) unite(out_slots[o], out_slots[o % per_out]);
    }
    p.slices.push_back({&n, 1, 0, out_slots, ChannelSlice::Role::kWeight, zeroPoint(n, integer)});
    if (!integer && n.input(2) != nullptr) {
      const Tensor* b = constantTensor(n.input(2));
      if (b == nullptr || b->shape != std::vector<int64_t>{out_channels}) return false;
      p.slices.push_back({&n, 2, 0, out_slots, ChannelSlice::Role::kBias});
    }
    if (integer && n.input(3) != nullptr) {
      const Tensor* zp = constantTensor(n.input(3));
      if (zp == nullptr) return false;
      if (zp->elementCount() != 1) {
        if (zp->shape != std::vector<int64_t>{out_channels}) return false;
        p.slices.push_back({&n, 3, 0, out_slots, ChannelSlice::Role::kParam});
      }
    }
    commit(p);
    addSegment(n, out_slots, ChannelGroup::Kind::kChannel);
    track(n.output(0), {rank, 1, out_slots});
    return true;
  }

  double zeroPoint(Node& n, bool integer) {
    if (!integer || n.input(3) == nullptr) return 0;
    return scalarValue(n.input(3)).value_or(0);
  }

  // ConvTranspose: weight [C_in, C_out/group, k...]; only group 1.
  bool visitConvTranspose(Node& n) {
    const Tensor* w = constantTensor(n.input(1));
    if (w == nullptr || w->shape.size() < 3 || n.attrInt("group", 1) != 1) return false;
    if (n.attr("output_shape") != nullptr) return false;
    const Tracked* in = find(n.input(0));
    if (in != nullptr && (in->axis != 1 || static_cast<int64_t>(in->slots.size()) != w->shape[0])) return false;
    Pending p;
    if (in != nullptr) p.slices.push_back({&n, 1, 0, in->slots, ChannelSlice::Role::kWeight});
    std::vector<int64_t> out_slots = newSlots(w->shape[1]);
    p.slices.push_back({&n, 1, 1, out_slots, ChannelSlice::Role::kWeight});
    if (n.input(2) != nullptr) {
      const Tensor* b = constantTensor(n.input(2));
      if (b == nullptr || b->shape != std::vector<int64_t>{w->shape[1]}) return false;
      p.slices.push_back({&n, 2, 0, out_slots, ChannelSlice::Role::kBias});
    }
    commit(p);
    addSegment(n, out_slots, ChannelGroup::Kind::kChannel);
    track(n.output(0), {static_cast<int>(w->shape.size()), 1, out_slots});
    return true;
  }

  // Gemm: Y = A' B' + C with a constant B; output neurons are B's N axis.
  bool visitGemm(Node& n) {
    const Tensor* w = constantTensor(n.input(1));
    if (w == nullptr || w->shape.size() != 2 || n.attrInt("transA", 0) != 0) return false;
    const bool trans_b = n.attrInt("transB", 0) != 0;
    const int k_axis = trans_b ? 1 : 0, n_axis = trans_b ? 0 : 1;
    const Tracked* in = find(n.input(0));
    if (in != nullptr && (in->axis != 1 || in->rank != 2 || static_cast<int64_t>(in->slots.size()) != w->shape[k_axis]))
      return false;
    Pending p;
    if (in != nullptr) p.slices.push_back({&n, 1, k_axis, in->slots, ChannelSlice::Role::kWeight});
    const int64_t neurons = w->shape[n_axis];
    std::vector<int64_t> out_slots = newSlots(neurons);
    p.slices.push_back({&n, 1, n_axis, out_slots, ChannelSlice::Role::kWeight});
    if (n.input(2) != nullptr) {
      const Tensor* c = constantTensor(n.input(2));
      if (c == nullptr) return false;
      if (c->elementCount() != 1) {
        if (c->shape.empty() || c->shape.back() != neurons || c->elementCount() != neurons) return false;
        p.slices.push_back({&n, 2, static_cast<int>(c->shape.size()) - 1, out_slots, ChannelSlice::Role::kBias});
      }
    }
    commit(p);
    addSegment(n, out_slots, ChannelGroup::Kind::kNeuron);
    track(n.output(0), {2, 1, out_slots});
    return true;
  }

  // MatMul with a constant [K, N] right operand: a linear layer over the last axis. Two
  // activations (attention scores): coupled on a shared batch axis.
  bool visitMatMul(Node& n) {
    Value* a = n.input(0);
    const Tensor* w = constantTensor(n.input(1));
    const Tracked* in = find(a);
    if (w != nullptr && w->shape.size() == 2) {
      auto rank = rankOf(a);
      if (!rank || *rank < 2) return in == nullptr;
      if (in != nullptr && (in->axis != in->rank - 1 || static_cast<int64_t>(in->slots.size()) != w->shape[0])) return false;
      Pending p;
      if (in != nullptr) p.slices.push_back({&n, 1, 0, in->slots, ChannelSlice::Role::kWeight});
      std::vector<int64_t> out_slots = newSlots(w->shape[1]);
      p.slices.push_back({&n, 1, 1, out_slots, ChannelSlice::Role::kWeight});
      commit(p);
      addSegment(n, out_slots, ChannelGroup::Kind::kNeuron);
      track(n.output(0), {*rank, *rank - 1, out_slots});
      return true;
    }
    const Tracked* b = find(n.input(1));
    if (in == nullptr && b == nullptr) return true;
    // Batched product of two activations: a tracked axis must be a batch axis of both.
    if (in == nullptr || b == nullptr || in->rank != b->rank || in->axis != b->axis || in->axis >= in->rank - 2 ||
        in->slots.size() != b->slots.size())
      return false;
    for (size_t i = 0; i < in->slots.size(); ++i) unite(in->slots[i], b->slots[i]);
    track(n.output(0), *in);
    return true;
  }

  // Everything that is neither producer nor linear consumer.
  bool visitPassOrCouple(Node& n) {
    static const std::set<std::string> kUnary = {
        "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus",
        "Softsign", "Erf", "Gelu", "Mish", "Exp", "Log", "Abs", "Neg", "Sqrt", "Reciprocal", "Floor", "Ceil",
        "Round", "Sign", "Sin", "Cos", "Identity", "Cast", "ThresholdedRelu", "Not", "IsNaN", "IsInf"};
    static const std::set<std::string> kElementwise = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean",
                                                       "Pow", "PRelu", "Equal", "Less", "Greater", "And", "Or"};
    static const std::set<std::string> kPool = {"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool",
                                                "GlobalMaxPool", "GlobalLpPool"};
    const std::string& op = n.op_type;
    const Tracked* x = find(n.input(0));
    if (op == "Shape" || op == "Size") return true;  // reads the (new) shape at run time
    if (kUnary.count(op) || op == "Dropout" || op == "Clip" || op == "DynamicQuantizeLinear") {
      if (x == nullptr) return false;
      for (size_t i = 1; i < n.inputs().size(); ++i)
        if (n.input(i) != nullptr && (find(n.input(i)) || !isScalar(n.input(i)))) return false;
      for (size_t i = 1; i < n.outputs().size(); ++i)
        if (op != "DynamicQuantizeLinear" && isUsed(n.output(i))) return false;
      track(n.output(0), *x);
      return true;
    }
    if (op == "QuantizeLinear" || op == "DequantizeLinear") {
      if (x == nullptr || !isScalar(n.input(1)) || (n.input(2) && !isScalar(n.input(2)))) return false;
      track(n.output(0), *x);
      return true;
    }
    if (kElementwise.count(op)) return visitElementwise(n);
    if (kPool.count(op)) {
      if (x == nullptr || x->axis != 1 || isUsed(n.output(1))) return false;
      track(n.output(0), *x);
      return true;
    }
    if (op == "BatchNormalization" || op == "InstanceNormalization") return visitNorm(n, op == "BatchNormalization" ? 4 : 2);
    if (op == "LayerNormalization") return visitLayerNorm(n);
    if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") {
      if (x == nullptr) return false;
      const int64_t opset = model_.opsetVersion("");
      int64_t axis = n.attrInt("axis", opset >= 13 ? -1 : 1);
      if (axis < 0) axis += x->rank;
      // Before opset 13 the op flattens [axis:] into one row: the channel must lie before it.
      if (opset >= 13 ? axis == x->axis : x->axis >= axis) return false;
      track(n.output(0), *x);
      return true;
    }
    if (op == "Transpose") {
      if (x == nullptr) return false;
      std::vector<int64_t> perm;
      if (const Attribute* a = n.attr("perm")) perm = a->ints;
      else for (int i = x->rank - 1; i >= 0; --i) perm.push_back(i);
      auto it = std::find(perm.begin(), perm.end(), x->axis);
      if (it == perm.end() || static_cast<int>(perm.size()) != x->rank) return false;
      Tracked out = *x;
      out.axis = static_cast<int>(it - perm.begin());
      track(n.output(0), out);
      return true;
    }
    if (op.rfind("Reduce", 0) == 0) return visitReduce(n);
    if (op == "Concat") return visitConcat(n);
    if (op == "Split") return visitSplit(n);
    if (op == "Slice") return visitSlice(n);
    if (op == "Resize" || op == "Upsample") return visitResize(n);
    if (op == "Flatten") return visitFlatten(n);
    if (op == "Reshape") return visitReshape(n);
    if (op == "Squeeze" || op == "Unsqueeze") return visitSqueeze(n);
    return false;
  }

  bool isScalar(Value* v) {
    auto s = shapes_.of(v);
    return s && product(*s, 0, s->size()) == 1 && std::all_of(s->begin(), s->end(), [](int64_t d) { return d == 1; });
  }

  // Broadcasting elementwise ops: tracked operands are coupled position by position; untracked
  // operands must be scalar along the channel axis or per-channel constants (then sliced).
  bool visitElementwise(Node& n) {
    int out_rank = 0;
    for (Value* in : n.inputs()) {
      auto r = rankOf(in);
      if (!r) return false;
      out_rank = std::max(out_rank, *r);
    }
    const Tracked* first = nullptr;
    int out_axis = -1;
    for (Value* in : n.inputs()) {
      const Tracked* t = find(in);
      if (t == nullptr) continue;
      const int axis = t->axis + out_rank - t->rank;
      if (first == nullptr) first = t, out_axis = axis;
      else if (axis != out_axis || t->slots.size() != first->slots.size()) return false;
    }
    const int64_t channels = static_cast<int64_t>(first->slots.size());
    Pending p;
    for (size_t i = 0; i < n.inputs().size(); ++i) {
      Value* in = n.input(i);
      if (find(in) != nullptr) continue;
      auto shape = shapes_.of(in);
      if (!shape) return false;
      const int aligned = out_axis - (out_rank - static_cast<int>(shape->size()));
      if (aligned < 0 || (*shape)[aligned] == 1) continue;
      if ((*shape)[aligned] != channels) return false;
      if (constantTensor(in) != nullptr) {
        p.slices.push_back({&n, i, aligned, first->slots, ChannelSlice::Role::kParam});
        continue;
      }
      // A per-channel constant reshaped for broadcasting (bias [C] -> [1,C,1,1]).
      Node* reshape = in->producer();
      if (reshape == nullptr || reshape->op_type != "Reshape" || in->uses().size() != 1) return false;
      const Tensor* src = constantTensor(reshape->input(0));
      auto target = intValues(reshape->input(1));
      if (src == nullptr || !target || src->shape != std::vector<int64_t>{channels} ||
          static_cast<int>(target->size()) != static_cast<int>(shape->size()) ||
          ((*target)[aligned] != channels && (*target)[aligned] != -1))
        return false;
      p.slices.push_back({reshape, 0, 0, first->slots, ChannelSlice::Role::kParam});
      // An explicit count is rewritten; -1 (inferred from the element count) needs nothing.
      if ((*target)[aligned] == channels) p.fixups.push_back({reshape, 1, "", static_cast<size_t>(aligned), first->slots, 1});
    }
    for (Value* in : n.inputs())
      if (const Tracked* t = find(in))
        for (size_t k = 0; k < t->slots.size(); ++k) unite(t->slots[k], first->slots[k]);
    commit(p);
    track(n.output(0), {out_rank, out_axis, first->slots});
    return true;
  }

  bool visitNorm(Node& n, size_t params) {
    const Tracked* x = find(n.input(0));
    if (x == nullptr || x->axis != 1) return false;
    for (size_t i = 1; i < n.outputs().size(); ++i)
      if (isUsed(n.output(i))) return false;
    Pending p;
    const int64_t channels = static_cast<int64_t>(x->slots.size());
    for (size_t i = 1; i <= params; ++i) {
      const Tensor* t = constantTensor(n.input(i));
      if (t == nullptr || t->shape != std::vector<int64_t>{channels}) return false;
      p.slices.push_back({&n, i, 0, x->slots, i == 1 ? ChannelSlice::Role::kNormScale : ChannelSlice::Role::kParam});
    }
    commit(p);
    track(n.output(0), *x);
    return true;
  }

  // LayerNormalization over the channel axis alone (the last axis): scale and bias are sliced.
  // The statistics then cover the kept channels only (as after pruning any LayerNorm model).
  bool visitLayerNorm(Node& n) {
    const Tracked* x = find(n.input(0));
    if (x == nullptr || x->axis != x->rank - 1) return false;
    int64_t axis = n.attrInt("axis", -1);
    if (axis < 0) axis += x->rank;
    if (axis != x->rank - 1) return false;
    for (size_t i = 1; i < n.outputs().size(); ++i)
      if (isUsed(n.output(i))) return false;
    Pending p;
    const int64_t channels = static_cast<int64_t>(x->slots.size());
    for (size_t i = 1; i <= 2 && i < n.inputs().size(); ++i) {
      if (n.input(i) == nullptr) continue;
      const Tensor* t = constantTensor(n.input(i));
      if (t == nullptr || t->shape != std::vector<int64_t>{channels}) return false;
      p.slices.push_back({&n, i, 0, x->slots, i == 1 ? ChannelSlice::Role::kNormScale : ChannelSlice::Role::kParam});
    }
    commit(p);
    track(n.output(0), *x);
    return true;
  }

  // Reductions over other axes keep the channels; keepdims=0 shifts the axis.
  bool visitReduce(Node& n) {
    const Tracked* x = find(n.input(0));
    if (x == nullptr) return false;
    std::vector<int64_t> axes;
    if (const Attribute* a = n.attr("axes")) axes = a->ints;
    else if (n.input(1) != nullptr) {
      auto v = intValues(n.input(1));
      if (!v) return false;
      axes = *v;
    }
    if (axes.empty()) return false;  // all axes (or noop_with_empty_axes): not worth the cases
    int shift = 0;
    for (int64_t& a : axes) {
      if (a < 0) a += x->rank;
      if (a == x->axis) return false;
      if (a < x->axis) ++shift;
    }
    Tracked out = *x;
    if (n.attrInt("keepdims", 1) == 0) out.axis -= shift, out.rank -= static_cast<int>(axes.size());
    track(n.output(0), out);
    return true;
  }

  bool visitConcat(Node& n) {
    int64_t axis = n.attrInt("axis", 0);
    const Tracked* any = nullptr;
    for (Value* in : n.inputs())
      if (const Tracked* t = find(in)) any = t;
    if (axis < 0) axis += any->rank;
    if (axis != any->axis) {
      // Concatenation along another axis: every operand carries the same channels.
      for (Value* in : n.inputs()) {
        const Tracked* t = find(in);
        if (t == nullptr || t->axis != any->axis || t->rank != any->rank || t->slots.size() != any->slots.size()) return false;
      }
      for (Value* in : n.inputs())
        for (size_t k = 0; k < any->slots.size(); ++k) unite(find(in)->slots[k], any->slots[k]);
      track(n.output(0), *any);
      return true;
    }
    // Along the channel axis: the output's slots are the operands' slots one after the other;
    // positions from untracked operands get slots of their own that can never be removed.
    std::vector<int64_t> slots;
    for (Value* in : n.inputs()) {
      if (const Tracked* t = find(in)) {
        if (t->axis != any->axis || t->rank != any->rank) return false;
        slots.insert(slots.end(), t->slots.begin(), t->slots.end());
        continue;
      }
      auto shape = shapes_.of(in);
      if (!shape || static_cast<int>(shape->size()) != any->rank || (*shape)[axis] < 0) return false;
      std::vector<int64_t> fixed = newSlots((*shape)[axis]);
      lock(fixed, "concatenated with " + in->name() + " in " + n.describe());
      slots.insert(slots.end(), fixed.begin(), fixed.end());
    }
    track(n.output(0), {any->rank, any->axis, slots});
    return true;
  }

  bool visitSplit(Node& n) {
    const Tracked* x = find(n.input(0));
    if (x == nullptr) return false;
    int64_t axis = n.attrInt("axis", 0);
    if (axis < 0) axis += x->rank;
    if (axis != x->axis) {
      for (Value* out : n.outputs()) track(out, *x);
      return true;
    }
    std::vector<int64_t> sizes;
    int split_input = -1;
    if (n.input(1) != nullptr) {
      auto v = intValues(n.input(1));
      if (!v) return false;
      sizes = *v, split_input = 1;
    } else if (const Attribute* a = n.attr("split")) {
      sizes = a->ints;
    } else {
      return false;  // an equal split would need equal counts per output
    }
    if (sizes.size() != n.outputs().size() ||
        std::accumulate(sizes.begin(), sizes.end(), int64_t{0}) != static_cast<int64_t>(x->slots.size()))
      return false;
    Pending p;
    size_t begin = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      std::vector<int64_t> part(x->slots.begin() + begin, x->slots.begin() + begin + sizes[i]);
      begin += sizes[i];
      p.fixups.push_back({&n, split_input, split_input < 0 ? "split" : "", i, part, 1});
      track(n.output(i), {x->rank, x->axis, part});
    }
    commit(p);
    return true;
  }

  // Slice with constant bounds: along the channel axis (step 1) the output keeps a range of
  // the input's slots; the bounds become counts of kept channels before them.
  bool visitSlice(Node& n) {
    const Tracked* x = find(n.input(0));
    if (x == nullptr) return false;
    const bool attrs = model_.opsetVersion("") < 10;
    std::vector<int64_t> starts, ends, axes, steps;
    if (attrs) {
      if (const Attribute* a = n.attr("starts")) starts = a->ints;
      if (const Attribute* a = n.attr("ends")) ends = a->ints;
      if (const Attribute* a = n.attr("axes")) axes = a->ints;
    } else {
      auto s = intValues(n.input(1)), e = intValues(n.input(2));
      if (!s || !e) return false;
      starts = *s, ends = *e;
      if (n.input(3) != nullptr) {
        auto a = intValues(n.input(3));
        if (!a) return false;
        axes = *a;
      }
      if (n.input(4) != nullptr) {
        auto st = intValues(n.input(4));
        if (!st) return false;
        steps = *st;
      }
    }
    if (axes.empty())
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (starts.size() != axes.size() || ends.size() != axes.size() || (!steps.empty() && steps.size() != axes.size()))
      return false;
    size_t k = axes.size();
    for (size_t i = 0; i < axes.size(); ++i)
      if ((axes[i] < 0 ? axes[i] + x->rank : axes[i]) == x->axis) k = i;
    if (k == axes.size()) {
      track(n.output(0), *x);
      return true;
    }
    if (!steps.empty() && steps[k] != 1) return false;
    const int64_t c = static_cast<int64_t>(x->slots.size());
    auto clampIndex = [c](int64_t v) { return std::clamp(v < 0 ? v + c : v, int64_t{0}, c); };
    const int64_t begin = clampIndex(starts[k]), end = std::max(begin, clampIndex(ends[k]));
    Pending p;
    p.fixups.push_back({&n, attrs ? -1 : 1, attrs ? "starts" : "", k, {x->slots.begin(), x->slots.begin() + begin}, 1});
    p.fixups.push_back({&n, attrs ? -1 : 2, attrs ? "ends" : "", k, {x->slots.begin(), x->slots.begin() + end}, 1});
    commit(p);
    track(n.output(0), {x->rank, x->axis, {x->slots.begin() + begin, x->slots.begin() + end}});
    return true;
  }

  // Resize keeps channels when its scale on the channel axis is 1; constant output sizes get
  // their channel entry recomputed; sizes computed at run time follow the input's shape.
  bool visitResize(Node& n) {
    const Tracked* x = find(n.input(0));
    if (x == nullptr) return false;
    const size_t scales_input = n.op_type == "Upsample" ? 1 : 2;
    Pending p;
    if (n.op_type == "Resize" && n.inputs().size() > 3 && n.input(3) != nullptr) {
      if (find(n.input(3))) return false;
      if (auto sizes = intValues(n.input(3))) {
        if (static_cast<int>(sizes->size()) != x->rank || n.attr("axes") != nullptr) return false;
        p.fixups.push_back({&n, 3, "", static_cast<size_t>(x->axis), x->slots, 1});
      }
    } else if (n.input(scales_input) != nullptr) {
      const Tensor* scales = constantTensor(n.input(scales_input));
      if (scales == nullptr || scales->dtype != DType::kFloat || scales->elementCount() != x->rank ||
          scales->dataAs<float>()[x->axis] != 1.0f)
        return false;
    } else if (const Attribute* a = n.attr("scales")) {
      if (static_cast<int>(a->floats.size()) != x->rank || a->floats[x->axis] != 1.0f) return false;
    } else {
      return false;
    }
    commit(p);
    track(n.output(0), *x);
    return true;
  }

  bool visitFlatten(Node& n) {
    const Tracked* x = find(n.input(0));
    if (x == nullptr) return false;
    int64_t axis = n.attrInt("axis", 1);
    if (axis < 0) axis += x->rank;
    auto shape = shapes_.of(n.input(0));
    if (axis != x->axis || !shape) return false;
    const int64_t inner = innerSize(*shape, x->axis);
    if (inner <= 0) return false;
    track(n.output(0), {2, 1, expand(x->slots, inner)});
    return true;
  }

  // Product of the static dims after `axis`, or -1 when one is unknown.
  static int64_t innerSize(const std::vector<int64_t>& shape, int axis) {
    int64_t inner = 1;
    for (size_t i = axis + 1; i < shape.size(); ++i) {
      if (shape[i] < 0) return -1;
      inner *= shape[i];
    }
    return inner;
  }

  // Each channel spread over `inner` consecutive positions (channel c -> c*inner .. c*inner+inner-1).
  std::vector<int64_t> expand(const std::vector<int64_t>& slots, int64_t inner) {
    if (inner == 1) return slots;
    std::vector<int64_t> out = newSlots(static_cast<int64_t>(slots.size()) * inner);
    for (size_t i = 0; i < out.size(); ++i) unite(out[i], slots[i / inner]);
    return out;
  }

  // Reshape with a constant target. The dims before the channel axis must be kept as they are;
  // the channel axis and the dims after it (all static) are regrouped into the target's dims
  // from the same position on. The first target dim there becomes the channel axis:
  //   - it groups g whole channels per position ([B,S,H*D] -> [B,S,H,D]: g = D/R... heads), or
  //   - each channel spreads over f positions ([N,C,H,W] -> [N,C*H*W]: Flatten before a Gemm).
  bool visitReshape(Node& n) {
    const Tracked* x = find(n.input(0));
    auto target = intValues(n.input(1));
    auto shape = shapes_.of(n.input(0));
    if (x == nullptr || !target || !shape || static_cast<int>(shape->size()) != x->rank) return false;
    const bool allow_zero = n.attrInt("allowzero", 0) != 0;
    std::vector<int64_t> in = *shape, out = *target;
    in[x->axis] = static_cast<int64_t>(x->slots.size());
    const int a = x->axis;
    if (static_cast<int>(out.size()) <= a) return false;
    int minus_one = -1;
    for (size_t j = 0; j < out.size(); ++j) {
      if (out[j] == 0 && !allow_zero) {
        if (j >= in.size() || in[j] < 0) {
          if (static_cast<int>(j) < a) continue;  // copies an unknown leading dim: fine
          return false;
        }
        out[j] = in[j];
      }
      if (out[j] == -1) {
        if (minus_one >= 0) return false;
        minus_one = static_cast<int>(j);
      }
    }
    for (int j = 0; j < a; ++j) {
      const int64_t t = (*target)[j];
      if (t == 0 && !allow_zero) continue;
      if (t == -1 || (in[j] >= 0 && in[j] == t)) continue;
      return false;
    }
    std::vector<int64_t> block_in(in.begin() + a, in.end()), block_out(out.begin() + a, out.end());
    if (std::any_of(block_in.begin(), block_in.end(), [](int64_t d) { return d < 0; })) return false;
    const int64_t total = product(block_in, 0, block_in.size());
    if (minus_one >= a) {
      int64_t others = 1;
      for (size_t j = 0; j < block_out.size(); ++j)
        if (static_cast<int>(j) + a != minus_one) others *= block_out[j];
      if (others <= 0 || total % others != 0) return false;
      block_out[minus_one - a] = total / others;
    }
    if (product(block_out, 0, block_out.size()) != total || block_out.empty()) return false;
    const int64_t inner_in = product(block_in, 1, block_in.size());
    const int64_t inner_out = product(block_out, 1, block_out.size());
    std::vector<int64_t> slots;
    if (inner_out % inner_in == 0) {
      const int64_t per = inner_out / inner_in;  // whole channels per output position
      if (per == 1) {
        slots = x->slots;
      } else {
        slots = newSlots(block_out[0]);
        for (size_t h = 0; h < slots.size(); ++h) {
          head_[slots[h]] = 1;
          for (int64_t k = 0; k < per; ++k) unite(slots[h], x->slots[h * per + k]);
        }
      }
    } else if (inner_in % inner_out == 0) {
      slots = expand(x->slots, inner_in / inner_out);
    } else {
      return false;
    }
    Pending p;
    if ((*target)[a] > 0) p.fixups.push_back({&n, 1, "", static_cast<size_t>(a), slots, 1});
    else if ((*target)[a] == 0 && slots != x->slots) return false;
    commit(p);
    track(n.output(0), {static_cast<int>(out.size()), a, slots});
    return true;
  }

  bool visitSqueeze(Node& n) {
    const Tracked* x = find(n.input(0));
    if (x == nullptr) return false;
    std::vector<int64_t> axes;
    if (const Attribute* a = n.attr("axes")) axes = a->ints;
    else if (n.input(1) != nullptr) {
      auto v = intValues(n.input(1));
      if (!v) return false;
      axes = *v;
    }
    if (axes.empty()) return false;
    Tracked out = *x;
    if (n.op_type == "Squeeze") {
      for (int64_t a : axes) {
        if (a < 0) a += x->rank;
        if (a == x->axis) return false;
        if (a < x->axis) --out.axis;
      }
      out.rank -= static_cast<int>(axes.size());
    } else {
      out.rank += static_cast<int>(axes.size());
      std::vector<bool> inserted(out.rank, false);
      for (int64_t a : axes) {
        if (a < -out.rank || a >= out.rank) return false;
        inserted[a < 0 ? a + out.rank : a] = true;
      }
      int seen = -1;
      for (int j = 0; j < out.rank; ++j)
        if (!inserted[j] && ++seen == x->axis) out.axis = j;
    }
    track(n.output(0), out);
    return true;
  }

  // --- results --------------------------------------------------------------------------
  ChannelAnalysis finish() {
    ChannelAnalysis result;
    // Coupled channels: union-find roots numbered in slot order (deterministic).
    std::vector<int64_t> channel_of_root(parent_.size(), -1);
    std::vector<int64_t> channel_of(parent_.size());
    for (size_t s = 0; s < parent_.size(); ++s) {
      const int64_t r = root(static_cast<int64_t>(s));
      if (channel_of_root[r] < 0) channel_of_root[r] = result.channel_count++;
      channel_of[s] = channel_of_root[r];
    }
    auto toChannels = [&](std::vector<int64_t> slots) {
      for (auto& s : slots) s = channel_of[s];
      return slots;
    };
    std::vector<std::string> lock_reason(result.channel_count);
    for (const auto& [slot, reason] : locks_)
      if (lock_reason[channel_of[slot]].empty()) lock_reason[channel_of[slot]] = reason;
    std::vector<char> head(result.channel_count, 0);
    for (size_t s = 0; s < parent_.size(); ++s) head[channel_of[s]] |= head_[s];

    for (auto& s : slices_) s.channels = toChannels(std::move(s.channels));
    for (auto& f : fixups_) f.channels = toChannels(std::move(f.channels));
    result.slices = std::move(slices_);
    result.fixups = std::move(fixups_);
    for (Value* v : tracked_order_) {
      const Tracked& t = tracked_.at(v);
      result.axes.push_back({v, t.axis, toChannels(t.slots)});
    }

    // Groups: channels that share a tensor (union-find over channel ids).
    std::vector<int64_t> gparent(result.channel_count);
    std::iota(gparent.begin(), gparent.end(), 0);
    auto groot = [&](int64_t c) {
      while (gparent[c] != c) c = gparent[c] = gparent[gparent[c]];
      return c;
    };
    auto joinAll = [&](const std::vector<int64_t>& channels) {
      for (size_t i = 1; i < channels.size(); ++i) {
        int64_t a = groot(channels[0]), b = groot(channels[i]);
        if (a != b) gparent[std::max(a, b)] = std::min(a, b);
      }
    };
    for (const auto& axis : result.axes) joinAll(axis.channels);
    for (const auto& s : result.slices) joinAll(s.channels);
    for (const auto& p : producers_) joinAll(toChannels(p.slots));

    std::vector<int64_t> group_of_root(result.channel_count, -1);
    result.group_of.assign(result.channel_count, -1);
    // Groups numbered by their first producer; channels listed in that producer's order.
    auto groupFor = [&](int64_t channel) {
      const int64_t r = groot(channel);
      if (group_of_root[r] < 0) {
        group_of_root[r] = static_cast<int64_t>(result.groups.size());
        result.groups.emplace_back();
      }
      return group_of_root[r];
    };
    for (const auto& p : producers_) {
      std::vector<int64_t> channels = toChannels(p.slots);
      ChannelGroup& g = result.groups[groupFor(channels[0])];
      g.producers.push_back(p.name);
      g.producer_nodes.push_back(p.node);
      if (p.kind == ChannelGroup::Kind::kChannel) g.kind = ChannelGroup::Kind::kChannel;
      else if (g.producers.size() == 1) g.kind = ChannelGroup::Kind::kNeuron;
      for (int64_t c : channels)
        if (result.group_of[c] < 0) {
          result.group_of[c] = group_of_root[groot(c)];
          g.channels.push_back(c);
        }
    }
    // Channels created by no producer (e.g. fixed Concat operands) still belong somewhere.
    for (int64_t c = 0; c < result.channel_count; ++c)
      if (result.group_of[c] < 0) {
        result.group_of[c] = groupFor(c);
        result.groups[result.group_of[c]].channels.push_back(c);
      }
    // Segments: the distinct channel sets of the group's tensors; pruning keeps each non-empty.
    std::vector<std::set<std::vector<int64_t>>> segments(result.groups.size());
    auto addSegmentOf = [&](const std::vector<int64_t>& channels) {
      if (channels.empty()) return;
      std::vector<int64_t> unique = channels;
      std::sort(unique.begin(), unique.end());
      unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
      segments[result.group_of[unique[0]]].insert(unique);
    };
    for (const auto& axis : result.axes) addSegmentOf(axis.channels);
    for (const auto& s : result.slices) addSegmentOf(s.channels);
    for (size_t gi = 0; gi < result.groups.size(); ++gi) {
      ChannelGroup& g = result.groups[gi];
      g.segments.assign(segments[gi].begin(), segments[gi].end());
      g.tensors = 0;
      bool all_locked = true;
      for (int64_t c : g.channels) {
        if (head[c]) g.kind = ChannelGroup::Kind::kHead;
        if (lock_reason[c].empty()) all_locked = false;
        else if (g.reason.empty()) g.reason = lock_reason[c];
      }
      g.prunable = !all_locked && !g.channels.empty() && !g.producers.empty();
      if (g.producers.empty() && g.reason.empty()) g.reason = "no producer with constant weights";
    }
    for (const auto& axis : result.axes)
      if (!axis.channels.empty()) ++result.groups[result.group_of[axis.channels[0]]].tensors;
    for (const auto& s : result.slices)
      if (!s.channels.empty()) ++result.groups[result.group_of[s.channels[0]]].tensors;
    result.locked.resize(result.channel_count);
    for (int64_t c = 0; c < result.channel_count; ++c) result.locked[c] = !lock_reason[c].empty();
    return result;
  }

  struct ProducerSegment {
    std::string name;
    Node* node;
    std::vector<int64_t> slots;
    ChannelGroup::Kind kind;
  };

  Model& model_;
  Graph& graph_;
  StaticShapes shapes_;
  std::vector<int64_t> parent_;
  std::vector<char> head_;
  std::vector<std::pair<int64_t, std::string>> locks_;
  std::unordered_map<const Value*, Tracked> tracked_;  // lookup only; order lives in tracked_order_
  std::vector<Value*> tracked_order_;
  std::vector<ChannelSlice> slices_;
  std::vector<ChannelFixup> fixups_;
  std::vector<ProducerSegment> producers_;
};

}  // namespace

Expected<ChannelAnalysis> analyzeChannelGroups(Model& model) { return Builder(model).run(); }

}  // namespace nnc

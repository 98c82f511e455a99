// Channel dependency analysis (see channel_groups.h). One forward walk over the main graph in
// topological order gives every understood tensor a channel axis and one slot per position;
// the per-op rules (dispatched by ONNX op type in visit(); producers, consumers, pass-through,
// coupling, index maps; in channel_rules_*.cpp) merge slots with a union-find. Slots merged together form a coupled
// channel. A rule that does not understand a use of a tracked tensor locks its slots instead.
// Default-domain ops only; every opset whose attributes/inputs the rules read is handled
// (axes as attribute before opset 13/18, Split sizes as attribute before 13, Slice before 10).
#include "nncompress/analysis/channel_groups.h"

#include <numeric>
#include <set>

#include "channel_builder.h"

namespace nnc {

std::string channelGroupKindName(ChannelGroup::Kind kind) {
  switch (kind) {
    case ChannelGroup::Kind::kChannel: return "channel";
    case ChannelGroup::Kind::kNeuron: return "neuron";
    case ChannelGroup::Kind::kHead: return "head";
  }
  return "?";
}

namespace channel_internal {

Expected<ChannelAnalysis> Builder::run() {
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

// --- the walk -----------------------------------------------------------------------------
void Builder::visit(Node& n) {
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

// Everything that is neither producer nor linear consumer.
bool Builder::visitPassOrCouple(Node& n) {
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

// --- results --------------------------------------------------------------------------
ChannelAnalysis Builder::finish() {
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

}  // namespace channel_internal

Expected<ChannelAnalysis> analyzeChannelGroups(Model& model) { return channel_internal::Builder(model).run(); }

}  // namespace nnc

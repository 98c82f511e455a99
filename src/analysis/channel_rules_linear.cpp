// Channel rules of the linear layers: Conv (plain, depthwise, grouped), ConvInteger,
// ConvTranspose, Gemm and MatMul create channels (weight output axis, bias) and consume them
// (weight input axis); MatMul of two activations couples a shared batch axis (attention heads).
#include "channel_builder.h"

namespace nnc::channel_internal {

// Conv / ConvInteger: output channels are created here (weight axis 0, bias); input channels
// are consumed (weight axis 1). Depthwise: output channel o is input channel o / multiplier.
bool Builder::visitConv(Node& n) {
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

double Builder::zeroPoint(Node& n, bool integer) {
  if (!integer || n.input(3) == nullptr) return 0;
  return scalarValue(n.input(3)).value_or(0);
}

// ConvTranspose: weight [C_in, C_out/group, k...]; only group 1.
bool Builder::visitConvTranspose(Node& n) {
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
bool Builder::visitGemm(Node& n) {
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
bool Builder::visitMatMul(Node& n) {
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

}  // namespace nnc::channel_internal

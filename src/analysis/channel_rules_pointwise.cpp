// Channel rules of ops that keep the channel axis: broadcasting elementwise ops (coupling and
// per-channel constants), BatchNormalization/InstanceNormalization/LayerNormalization,
// reductions over other axes, Resize.
#include "channel_builder.h"

#include <set>

namespace nnc::channel_internal {

bool Builder::isScalar(Value* v) {
  auto s = shapes_.of(v);
  return s && product(*s, 0, s->size()) == 1 && std::all_of(s->begin(), s->end(), [](int64_t d) { return d == 1; });
}

// Broadcasting elementwise ops: tracked operands are coupled position by position; untracked
// operands must be scalar along the channel axis or per-channel constants (then sliced).
bool Builder::visitElementwise(Node& n) {
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

bool Builder::visitNorm(Node& n, size_t params) {
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
bool Builder::visitLayerNorm(Node& n) {
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
bool Builder::visitReduce(Node& n) {
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

// Resize keeps channels when its scale on the channel axis is 1; constant output sizes get
// their channel entry recomputed; sizes computed at run time follow the input's shape.
bool Builder::visitResize(Node& n) {
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

}  // namespace nnc::channel_internal

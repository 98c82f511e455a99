// Channel rules of ops that move channels around: Concat (index maps with offsets), Split and
// Slice (sub-ranges; sizes and bounds become fixups), Flatten and Reshape (regrouping the
// channel axis with the dims after it), Squeeze/Unsqueeze (axis shifts).
#include "channel_builder.h"

#include <numeric>

namespace nnc::channel_internal {

bool Builder::visitConcat(Node& n) {
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

bool Builder::visitSplit(Node& n) {
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
bool Builder::visitSlice(Node& n) {
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

bool Builder::visitFlatten(Node& n) {
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
int64_t Builder::innerSize(const std::vector<int64_t>& shape, int axis) {
  int64_t inner = 1;
  for (size_t i = axis + 1; i < shape.size(); ++i) {
    if (shape[i] < 0) return -1;
    inner *= shape[i];
  }
  return inner;
}

// Each channel spread over `inner` consecutive positions (channel c -> c*inner .. c*inner+inner-1).
std::vector<int64_t> Builder::expand(const std::vector<int64_t>& slots, int64_t inner) {
  if (inner == 1) return slots;
  std::vector<int64_t> out = newSlots(static_cast<int64_t>(slots.size()) * inner);
  for (size_t i = 0; i < out.size(); ++i) unite(out[i], slots[i / inner]);
  return out;
}

// Reshape with a constant target. The dims before the channel axis must be kept as they are;
// the channel axis and the dims after it (all static) are regrouped into the target's dims
// from the same position on. The first target dim there becomes the channel axis:
//   - each position holds several whole channels ([B,S,H*D] -> [B,S,H,D]: a head holds D
//     neurons, which become one coupled channel), or
//   - each channel spreads over f positions ([N,C,H,W] -> [N,C*H*W]: Flatten before a Gemm).
bool Builder::visitReshape(Node& n) {
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

bool Builder::visitSqueeze(Node& n) {
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

}  // namespace nnc::channel_internal

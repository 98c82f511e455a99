// Ops that read a strided or repeated view of their input: Slice (1-9 attributes, 10+ inputs
// with steps; clamping as the spec, negative steps; large contiguous slices are zero-copy), Expand (8+), Tile (6+), Pad (1 'paddings',
// 2-10 'pads'/'value' attributes, 11+ inputs, 18+ axes input, 19+ wrap mode; negative pads crop).
#include <algorithm>

#include "shape_util.h"
#include "parallel.h"

namespace nnc::ops {
namespace shape {
namespace {

Status slice(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    starts = ctx.attrInts("starts");
    ends = ctx.attrInts("ends");
    axes = ctx.attrInts("axes");
  } else {
    NNC_ASSIGN_OR_RETURN(const Tensor* s, ctx.requiredInput(1));
    NNC_ASSIGN_OR_RETURN(const Tensor* e, ctx.requiredInput(2));
    NNC_ASSIGN_OR_RETURN(starts, readIntsOf(ctx, *s, "starts"));
    NNC_ASSIGN_OR_RETURN(ends, readIntsOf(ctx, *e, "ends"));
    if (const Tensor* a = ctx.input(3)) {
      NNC_ASSIGN_OR_RETURN(axes, readIntsOf(ctx, *a, "axes"));
    }
    if (const Tensor* st = ctx.input(4)) {
      NNC_ASSIGN_OR_RETURN(steps, readIntsOf(ctx, *st, "steps"));
    }
  }
  const size_t rank = x->shape.size();
  if (axes.empty() && (ctx.opset() < 10 ? !ctx.hasAttr("axes") : ctx.input(3) == nullptr))
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return ctx.fail("starts, ends, axes and steps must have the same length");
  std::vector<int64_t> first(rank, 0), step(rank, 1), count = x->shape;
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    auto axis_or = normalizeAxis(axes[i], static_cast<int64_t>(rank));
    if (!axis_or) return ctx.fail(axis_or.status().message());
    const auto d = static_cast<size_t>(*axis_or);
    if (seen[d]) return ctx.fail("axis " + std::to_string(axes[i]) + " is repeated");
    seen[d] = true;
    const int64_t dim = x->shape[d], st = steps[i];
    if (st == 0) return ctx.fail("step is zero");
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count[d] = e > s ? (e - s + st - 1) / st : 0;
    } else if (dim == 0) {
      count[d] = 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      count[d] = s > e ? (s - e - st - 1) / -st : 0;
    }
    first[d] = s;
    step[d] = st;
  }
  if (count == x->shape && std::all_of(step.begin(), step.end(), [](int64_t s) { return s == 1; })) {
    ctx.setOutput(0, reshaped(*x, x->shape));  // the whole tensor: share it
    return Status::ok();
  }
  const auto strides = contiguousStrides(x->shape);
  int64_t offset = 0;
  std::vector<int64_t> istrides(rank);
  const bool empty = product(count) == 0;
  for (size_t d = 0; d < rank; ++d) {
    if (!empty) offset += first[d] * strides[d];
    istrides[d] = strides[d] * step[d];
  }
  // A contiguous range (only the first non-1 axis is cut, with step 1) that keeps at least half
  // the input is shared rather than copied; smaller ones are copied so the input can be freed.
  const int64_t total = product(count);
  if (total > 0 && 2 * total >= x->elementCount()) {
    size_t cut = 0;
    while (cut < rank && count[cut] == 1) ++cut;
    bool contiguous = cut == rank || step[cut] == 1;
    for (size_t d = cut + 1; d < rank; ++d) contiguous = contiguous && count[d] == x->shape[d] && step[d] == 1;
    if (contiguous) {
      ctx.setOutput(0, viewOf(*x, count, static_cast<size_t>(offset) * esize));
      return Status::ok();
    }
  }
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(x->dtype, count, &out);
  copyStrided(x->bytes() + offset * static_cast<int64_t>(esize), out, esize, count, istrides);
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status expand(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* s, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  NNC_ASSIGN_OR_RETURN(auto shape, readIntsOf(ctx, *s, "shape"));
  for (int64_t d : shape)
    if (d < 0) return ctx.fail("shape " + shapeToString(shape) + " has a negative dim");
  auto out_shape = broadcastShapes({x->shape, shape});
  if (!out_shape) return ctx.fail(out_shape.status().message());
  NNC_RETURN_IF_ERROR(checkShape(ctx, *out_shape, esize));
  if (*out_shape == x->shape) {
    ctx.setOutput(0, reshaped(*x, x->shape));
    return Status::ok();
  }
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(x->dtype, *out_shape, &out);
  copyStrided(x->bytes(), out, esize, *out_shape, broadcastStrides(x->shape, *out_shape));
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status tile(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* r, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  NNC_ASSIGN_OR_RETURN(auto repeats, readIntsOf(ctx, *r, "repeats"));
  const size_t rank = x->shape.size();
  if (repeats.size() != rank) return ctx.fail("repeats " + shapeToString(repeats) + " does not match rank " + std::to_string(rank));
  // Output [r0*n0, r1*n1, ...] is the row-major layout of [r0, n0, r1, n1, ...] with stride 0 on r.
  const auto strides = contiguousStrides(x->shape);
  std::vector<int64_t> out_shape(rank), virt, istrides;
  for (size_t d = 0; d < rank; ++d) {
    if (repeats[d] < 0) return ctx.fail("repeats " + shapeToString(repeats) + " has a negative value");
    if (repeats[d] != 0 && x->shape[d] > INT64_MAX / repeats[d]) return ctx.fail("output is too large");
    out_shape[d] = x->shape[d] * repeats[d];
    virt.insert(virt.end(), {repeats[d], x->shape[d]});
    istrides.insert(istrides.end(), {0, strides[d]});
  }
  NNC_RETURN_IF_ERROR(checkShape(ctx, out_shape, esize));
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(x->dtype, out_shape, &out);
  copyStrided(x->bytes(), out, esize, virt, istrides);
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

// For output index j along an axis of input size n padded by `begin`: the input index to read,
// or -1 for the constant.
int64_t padSource(int64_t j, int64_t begin, int64_t n, int mode) {
  const int64_t s = j - begin;
  if (s >= 0 && s < n) return s;
  switch (mode) {
    case 1: {  // reflect (numpy semantics: repeats for pads longer than the dim)
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      int64_t m = ((s % period) + period) % period;
      return m >= n ? period - m : m;
    }
    case 2: return std::clamp<int64_t>(s, 0, n - 1);  // edge
    case 3: return ((s % n) + n) % n;                 // wrap
    default: return -1;
  }
}

Status pad(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  std::vector<int64_t> pads, axes;
  uint8_t value[16] = {};
  if (ctx.opset() < 11) {
    pads = ctx.attrInts(ctx.opset() < 2 ? "paddings" : "pads");
    if (!encodeScalar(x->dtype, ctx.attrFloat("value", 0.0f), value)) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  } else {
    NNC_ASSIGN_OR_RETURN(const Tensor* p, ctx.requiredInput(1));
    NNC_ASSIGN_OR_RETURN(pads, readIntsOf(ctx, *p, "pads"));
    if (const Tensor* c = ctx.input(2); c != nullptr && c->elementCount() > 0) {
      if (c->dtype != x->dtype || c->elementCount() != 1) return ctx.fail("constant_value must be one element of the input's type");
      std::memcpy(value, c->bytes(), esize);
    }
    if (const Tensor* a = ctx.input(3)) {
      NNC_ASSIGN_OR_RETURN(axes, readIntsOf(ctx, *a, "axes"));
    }
  }
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  if (pads.size() != 2 * axes.size())
    return ctx.fail("pads " + shapeToString(pads) + " must have 2 values per padded axis (" + std::to_string(axes.size()) + ")");
  const std::string mode_name = ctx.attrString("mode", "constant");
  int mode = 0;
  if (mode_name == "reflect") mode = 1;
  else if (mode_name == "edge") mode = 2;
  else if (mode_name == "wrap") mode = 3;
  else if (mode_name != "constant") return ctx.fail("unknown mode '" + mode_name + "'");

  std::vector<int64_t> begin(static_cast<size_t>(rank), 0), out_shape = x->shape;
  for (size_t i = 0; i < axes.size(); ++i) {
    auto axis = normalizeAxis(axes[i], rank);
    if (!axis) return ctx.fail(axis.status().message());
    const auto d = static_cast<size_t>(*axis);
    auto huge = [](int64_t p) { return p > (int64_t{1} << 40) || p < -(int64_t{1} << 40); };
    if (huge(pads[i]) || huge(pads[i + axes.size()]))
      return ctx.fail("pads " + shapeToString(pads) + " are out of range");
    begin[d] = pads[i];
    out_shape[d] = x->shape[d] + pads[i] + pads[i + axes.size()];
    if (out_shape[d] < 0) return ctx.fail("pads " + shapeToString(pads) + " crop more than the input has");
    if (mode != 0 && x->shape[d] == 0 && out_shape[d] > 0) return ctx.fail("cannot pad an empty axis in " + mode_name + " mode");
  }
  NNC_RETURN_IF_ERROR(checkShape(ctx, out_shape, esize));
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(x->dtype, out_shape, &out);
  const int64_t total = product(out_shape);
  if (rank == 0 || total == 0) {
    if (total) std::memcpy(out, x->bytes(), esize);
    ctx.setOutput(0, std::move(result));
    return Status::ok();
  }
  const auto last = static_cast<size_t>(rank - 1);
  const int64_t cols = out_shape[last], n_last = x->shape[last];
  const int64_t rows = total / cols;
  const auto in_strides = contiguousStrides(x->shape);
  // The interior of the last axis is one contiguous run of the input row.
  const int64_t lo = std::clamp<int64_t>(begin[last], 0, cols), hi = std::clamp<int64_t>(begin[last] + n_last, lo, cols);
  // Source index of each output column (outer axes are mapped per row).
  std::vector<int64_t> col_map(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) col_map[static_cast<size_t>(j)] = padSource(j, begin[last], n_last, mode);
  dispatchBySize(esize, [&](auto zero) {
    using T = decltype(zero);
    T c;
    std::memcpy(&c, value, sizeof(T));
    const T* in = x->dataAs<T>();
    T* o = reinterpret_cast<T*>(out);
    const int64_t* map = col_map.data();
    NNC_PARALLEL_FOR_IF(total * static_cast<int64_t>(sizeof(T)) > 4 * kMinParallelWork,
      for (int64_t r = 0; r < rows; ++r) {
        T* dst = o + r * cols;
        int64_t rem = r, src = 0;
        bool constant_row = false;
        for (size_t d = last; d-- > 0;) {
          const int64_t m = padSource(rem % out_shape[d], begin[d], x->shape[d], mode);
          rem /= out_shape[d];
          if (m < 0) constant_row = true;
          src += m * in_strides[d];
        }
        if (constant_row) {
          for (int64_t j = 0; j < cols; ++j) dst[j] = c;
          continue;
        }
        const T* row = in + src;
        for (int64_t j = 0; j < lo; ++j) dst[j] = map[j] < 0 ? c : row[map[j]];
        if (hi > lo) std::memcpy(dst + lo, row + map[lo], sizeof(T) * static_cast<size_t>(hi - lo));
        for (int64_t j = hi; j < cols; ++j) dst[j] = map[j] < 0 ? c : row[map[j]];
      });
  });
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

}  // namespace

void registerSliceOps(OpRegistry& registry) {
  registry.add({"", "Slice", 1, 1000, slice, true});
  registry.add({"", "Expand", 8, 1000, expand, true});
  registry.add({"", "Tile", 6, 1000, tile, true});
  registry.add({"", "Pad", 1, 1000, pad, true});
}

}  // namespace shape
}  // namespace nnc::ops

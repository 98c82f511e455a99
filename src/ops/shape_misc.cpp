// Data-dependent selection and masks: NonZero (9+), Trilu (14+), OneHot (9+), Compress (9+),
// ReverseSequence (10+), Unique (11+; numeric and bool, 16-bit floats via float32). All move
// elements as raw bytes except Unique, which compares values.
#include <algorithm>
#include <numeric>

#include "shape_util.h"
#include "parallel.h"

namespace nnc::ops {
namespace shape {
namespace {

Status nonZero(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  // A scalar behaves as a 1-element vector (numpy and ONNX Runtime).
  const std::vector<int64_t> shape = x->shape.empty() ? std::vector<int64_t>{1} : x->shape;
  const int64_t n = x->elementCount();
  std::vector<int64_t> hits;
  dispatchBySize(esize, [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_integral_v<T>) {
      // Floats are zero when all bits but the sign are (so -0.0 counts as zero).
      const T mask = isFloatingPoint(x->dtype) ? static_cast<T>(~(T(1) << (sizeof(T) * 8 - 1))) : static_cast<T>(~T(0));
      const T* p = x->dataAs<T>();
      for (int64_t i = 0; i < n; ++i)
        if (p[i] & mask) hits.push_back(i);
    }
  });
  if (esize == 16) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  const auto rank = static_cast<int64_t>(shape.size());
  const auto count = static_cast<int64_t>(hits.size());
  int64_t* out = nullptr;
  Tensor result = allocate<int64_t>(DType::kInt64, {rank, count}, &out);
  for (int64_t j = 0; j < count; ++j) {
    int64_t flat = hits[static_cast<size_t>(j)];
    for (int64_t d = rank; d-- > 0;) {
      out[d * count + j] = flat % shape[static_cast<size_t>(d)];
      flat /= shape[static_cast<size_t>(d)];
    }
  }
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status trilu(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  if (x->shape.size() < 2) return ctx.fail("input must have rank >= 2, got " + shapeToString(x->shape));
  int64_t k = 0;
  if (const Tensor* kt = ctx.input(1)) {
    NNC_ASSIGN_OR_RETURN(k, readScalarInt(ctx, *kt, "k"));
  }
  const bool upper = ctx.attrInt("upper", 1) != 0;
  const int64_t rows = x->shape[x->shape.size() - 2], cols = x->shape.back();
  const int64_t all_rows = product(x->shape, 0, x->shape.size() - 1);
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(x->dtype, x->shape, &out);
  const uint8_t* in = x->bytes();
  NNC_PARALLEL_FOR_IF(all_rows * cols * static_cast<int64_t>(esize) > 4 * kMinParallelWork,
    for (int64_t r = 0; r < all_rows; ++r) {
      const int64_t i = r % rows;
      // Kept columns [lo, hi): upper keeps j >= i + k, lower keeps j <= i + k.
      const int64_t lo = upper ? std::clamp<int64_t>(i + k, 0, cols) : 0;
      const int64_t hi = upper ? cols : std::clamp<int64_t>(i + k + 1, 0, cols);
      uint8_t* dst = out + r * cols * static_cast<int64_t>(esize);
      const uint8_t* src = in + r * cols * static_cast<int64_t>(esize);
      const auto e = static_cast<int64_t>(esize);
      std::memset(dst, 0, static_cast<size_t>(cols * e));
      if (hi > lo) std::memcpy(dst + lo * e, src + lo * e, static_cast<size_t>((hi - lo) * e));
    });
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status oneHot(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* indices, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* depth_t, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(const Tensor* values, ctx.requiredInput(2));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *values));
  if (values->elementCount() != 2) return ctx.fail("values must have 2 elements [off, on]");
  auto depth_v = readDoubles(*depth_t, "depth");
  if (!depth_v || depth_v->size() != 1) return ctx.fail("depth must be a numeric scalar");
  const auto depth = static_cast<int64_t>((*depth_v)[0]);
  if (depth <= 0 || depth > (int64_t{1} << 31)) return ctx.fail("depth " + std::to_string(depth) + " is out of range");
  auto idx = readDoubles(*indices, "indices");
  if (!idx) return ctx.fail(idx.status().message());
  const auto rank = static_cast<int64_t>(indices->shape.size());
  auto axis_or = normalizeAxis(ctx.attrInt("axis", -1), rank + 1);
  if (!axis_or) return ctx.fail(axis_or.status().message());
  const auto axis = static_cast<size_t>(*axis_or);
  std::vector<int64_t> out_shape = indices->shape;
  out_shape.insert(out_shape.begin() + static_cast<ptrdiff_t>(axis), depth);
  NNC_RETURN_IF_ERROR(checkShape(ctx, out_shape, esize));
  const int64_t outer = product(indices->shape, 0, axis), inner = product(indices->shape, axis);
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(values->dtype, out_shape, &out);
  const uint8_t* off = values->bytes();
  const uint8_t* on = values->bytes() + esize;
  fillElements(out, off, esize, result.elementCount());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto v = static_cast<int64_t>((*idx)[static_cast<size_t>(o * inner + i)]);
      if (v < 0) v += depth;
      if (v < 0 || v >= depth) continue;  // out of range: the row stays all "off"
      std::memcpy(out + ((o * depth + v) * inner + i) * static_cast<int64_t>(esize), on, esize);
    }
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status compress(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* cond, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  if (cond->dtype != DType::kBool || cond->shape.size() != 1) return ctx.fail("condition must be a 1D bool tensor");
  std::vector<int64_t> shape = x->shape;
  size_t axis = 0;
  if (ctx.hasAttr("axis")) {
    auto a = normalizeAxis(ctx.attrInt("axis", 0), static_cast<int64_t>(shape.size()));
    if (!a) return ctx.fail(a.status().message());
    axis = static_cast<size_t>(*a);
  } else {
    shape = {x->elementCount()};
  }
  const int64_t dim = shape[axis];
  std::vector<int64_t> keep;
  const uint8_t* c = cond->bytes();
  for (int64_t i = 0; i < cond->elementCount(); ++i) {
    if (!c[i]) continue;
    if (i >= dim) return ctx.fail("condition selects index " + std::to_string(i) + " beyond the axis size " + std::to_string(dim));
    keep.push_back(i);
  }
  std::vector<int64_t> out_shape = shape;
  out_shape[axis] = static_cast<int64_t>(keep.size());
  const int64_t outer = product(shape, 0, axis), block = product(shape, axis + 1) * static_cast<int64_t>(esize);
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(x->dtype, out_shape, &out);
  uint8_t* dst = out;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : keep) {
      std::memcpy(dst, x->bytes() + (o * dim + i) * block, static_cast<size_t>(block));
      dst += block;
    }
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status reverseSequence(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* lens_t, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  NNC_ASSIGN_OR_RETURN(auto lens, readIntsOf(ctx, *lens_t, "sequence_lens"));
  const int64_t batch_axis = ctx.attrInt("batch_axis", 1), time_axis = ctx.attrInt("time_axis", 0);
  if (x->shape.size() < 2) return ctx.fail("input must have rank >= 2");
  if (!((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0)))
    return ctx.fail("batch_axis and time_axis must be 0 and 1 in some order");
  const int64_t batch = x->shape[static_cast<size_t>(batch_axis)], time = x->shape[static_cast<size_t>(time_axis)];
  if (static_cast<int64_t>(lens.size()) != batch) return ctx.fail("sequence_lens must have one entry per batch");
  for (int64_t l : lens)
    if (l < 0 || l > time) return ctx.fail("sequence length " + std::to_string(l) + " is out of range [0, " + std::to_string(time) + "]");
  const auto strides = contiguousStrides(x->shape);
  const int64_t bs = strides[static_cast<size_t>(batch_axis)] * static_cast<int64_t>(esize);
  const int64_t ts = strides[static_cast<size_t>(time_axis)] * static_cast<int64_t>(esize);
  const int64_t block = strides[1] * static_cast<int64_t>(esize);
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(x->dtype, x->shape, &out);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = lens[static_cast<size_t>(b)];
    for (int64_t t = 0; t < time; ++t) {
      const int64_t src = t < len ? len - 1 - t : t;
      std::memcpy(out + b * bs + t * ts, x->bytes() + b * bs + src * ts, static_cast<size_t>(block));
    }
  }
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status unique(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  // Items are single elements (no axis) or slices along the axis: outer x [item] x inner.
  std::vector<int64_t> shape = {x->elementCount()};
  size_t axis = 0;
  if (ctx.hasAttr("axis")) {
    auto a = normalizeAxis(ctx.attrInt("axis", 0), static_cast<int64_t>(x->shape.size()));
    if (!a) return ctx.fail(a.status().message());
    shape = x->shape;
    axis = static_cast<size_t>(*a);
  }
  const int64_t items = shape[axis], outer = product(shape, 0, axis), inner = product(shape, axis + 1);
  std::vector<int64_t> order(static_cast<size_t>(items));
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> group_of(static_cast<size_t>(items));  // sorted position -> group id
  std::vector<int64_t> firsts, counts;
  auto byValue = [&](auto zero) {
    using T = decltype(zero);
    const T* p = x->dataAs<T>();
    // -1/0/1 lexicographic comparison of two items.
    auto cmp = [&](int64_t a, int64_t b) {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const T va = p[(o * items + a) * inner + i], vb = p[(o * items + b) * inner + i];
          if (va < vb) return -1;
          if (vb < va) return 1;
        }
      return 0;
    };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
    for (size_t s = 0; s < order.size(); ++s) {
      if (s == 0 || cmp(order[s - 1], order[s]) != 0) {
        firsts.push_back(order[s]);  // stable sort: the first of a run is its first occurrence
        counts.push_back(0);
      }
      ++counts.back();
      group_of[static_cast<size_t>(order[s])] = static_cast<int64_t>(firsts.size()) - 1;
    }
  };
  const bool ok = x->dtype == DType::kBool ? (byValue(uint8_t{}), true) : dispatchNumeric(x->dtype, byValue);
  if (!ok) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  const auto u = static_cast<int64_t>(firsts.size());
  // Output position of each group: sorted order, or order of first occurrence.
  std::vector<int64_t> pos(static_cast<size_t>(u));
  std::iota(pos.begin(), pos.end(), 0);
  if (ctx.attrInt("sorted", 1) == 0) {
    std::vector<int64_t> by_first(static_cast<size_t>(u));
    std::iota(by_first.begin(), by_first.end(), 0);
    std::sort(by_first.begin(), by_first.end(), [&](int64_t a, int64_t b) { return firsts[static_cast<size_t>(a)] < firsts[static_cast<size_t>(b)]; });
    for (int64_t i = 0; i < u; ++i) pos[static_cast<size_t>(by_first[static_cast<size_t>(i)])] = i;
  }
  std::vector<int64_t> y_shape = shape;
  y_shape[axis] = u;
  uint8_t* y = nullptr;
  Tensor y_t = Tensor::uninitialized(x->dtype, y_shape, &y);
  int64_t *first_out = nullptr, *inverse_out = nullptr, *count_out = nullptr;
  Tensor first_t = allocate<int64_t>(DType::kInt64, {u}, &first_out);
  Tensor inverse_t = allocate<int64_t>(DType::kInt64, {items}, &inverse_out);
  Tensor count_t = allocate<int64_t>(DType::kInt64, {u}, &count_out);
  const int64_t block = inner * static_cast<int64_t>(esize);
  for (int64_t g = 0; g < u; ++g) {
    const int64_t p = pos[static_cast<size_t>(g)], src = firsts[static_cast<size_t>(g)];
    first_out[p] = src;
    count_out[p] = counts[static_cast<size_t>(g)];
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(y + (o * u + p) * block, x->bytes() + (o * items + src) * block, static_cast<size_t>(block));
  }
  for (int64_t i = 0; i < items; ++i) inverse_out[i] = pos[static_cast<size_t>(group_of[static_cast<size_t>(i)])];
  ctx.setOutput(0, std::move(y_t));
  if (ctx.outputCount() > 1) ctx.setOutput(1, std::move(first_t));
  if (ctx.outputCount() > 2) ctx.setOutput(2, std::move(inverse_t));
  if (ctx.outputCount() > 3) ctx.setOutput(3, std::move(count_t));
  return Status::ok();
}

}  // namespace

void registerMiscOps(OpRegistry& registry) {
  registry.add({"", "NonZero", 9, 1000, nonZero, true});
  registry.add({"", "Trilu", 14, 1000, trilu, true});
  registry.add({"", "OneHot", 9, 1000, oneHot, true});
  registry.add({"", "Compress", 9, 1000, compress, true});
  registry.add({"", "ReverseSequence", 10, 1000, reverseSequence, true});
  // Unique compares values: float16/bfloat16 are compared in float32 (exact) and rounded back.
  registry.add({"", "Unique", 11, 1000, unique, false});
}

}  // namespace shape
}  // namespace nnc::ops

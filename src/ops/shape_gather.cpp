// Indexed reads and writes: Gather (1+), GatherElements (11+), GatherND (11+, batch_dims 12+),
// ScatterND (11+, reduction add/mul 16+, max/min 18+), ScatterElements (11+, same reductions),
// Scatter (9-10, deprecated alias of ScatterElements). Indices are checked before any copy:
// out of range is an error naming the node, never an out-of-bounds access.
#include <algorithm>

#include "shape_util.h"
#include "parallel.h"

namespace nnc::ops {
namespace shape {
namespace {

// Indices normalized into [0, dim) (negative ones count from the end), or an error.
Expected<std::vector<int64_t>> readIndices(const KernelContext& ctx, const Tensor& t, int64_t dim) {
  NNC_ASSIGN_OR_RETURN(auto idx, readIntsOf(ctx, t, "indices"));
  for (int64_t& i : idx) {
    if (i < -dim || i >= dim)
      return ctx.fail("index " + std::to_string(i) + " is out of range for a dim of size " + std::to_string(dim));
    if (i < 0) i += dim;
  }
  return idx;
}

Status gather(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* data, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* indices, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *data));
  auto axis_or = normalizeAxis(ctx.attrInt("axis", 0), static_cast<int64_t>(data->shape.size()));
  if (!axis_or) return ctx.fail(axis_or.status().message());
  const auto axis = static_cast<size_t>(*axis_or);
  NNC_ASSIGN_OR_RETURN(auto idx, readIndices(ctx, *indices, data->shape[axis]));
  std::vector<int64_t> out_shape(data->shape.begin(), data->shape.begin() + static_cast<ptrdiff_t>(axis));
  out_shape.insert(out_shape.end(), indices->shape.begin(), indices->shape.end());
  out_shape.insert(out_shape.end(), data->shape.begin() + static_cast<ptrdiff_t>(axis) + 1, data->shape.end());
  const int64_t outer = product(data->shape, 0, axis);
  const int64_t block = product(data->shape, axis + 1) * static_cast<int64_t>(esize);
  const int64_t row = data->shape[axis] * block;
  const auto n = static_cast<int64_t>(idx.size());
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(data->dtype, out_shape, &out);
  const uint8_t* in = data->bytes();
  const int64_t tasks = outer * n;
  if (block == static_cast<int64_t>(esize)) {
    // Gathering single elements (embedding of scalars, axis = last): typed copies, no memcpy calls.
    dispatchBySize(esize, [&](auto zero) {
      using T = decltype(zero);
      const T* src = reinterpret_cast<const T*>(in);
      T* dst = reinterpret_cast<T*>(out);
      const int64_t dim = data->shape[axis];
      NNC_PARALLEL_FOR_IF(tasks > kMinParallelWork,
        for (int64_t t = 0; t < tasks; ++t) dst[t] = src[(t / n) * dim + idx[static_cast<size_t>(t % n)]];);
    });
  } else {
    NNC_PARALLEL_FOR_IF(tasks * block > 4 * kMinParallelWork && tasks > 1,
      for (int64_t t = 0; t < tasks; ++t)
        std::memcpy(out + t * block, in + (t / n) * row + idx[static_cast<size_t>(t % n)] * block, static_cast<size_t>(block)););
  }
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

// Checks an ElementWise-indexed op's shapes: same rank, indices no larger than data off the axis.
Status checkElementShapes(const KernelContext& ctx, const Tensor& data, const Tensor& indices, size_t axis) {
  if (indices.shape.size() != data.shape.size())
    return ctx.fail("indices " + shapeToString(indices.shape) + " and data " + shapeToString(data.shape) + " differ in rank");
  for (size_t d = 0; d < data.shape.size(); ++d)
    if (d != axis && indices.shape[d] > data.shape[d])
      return ctx.fail("indices " + shapeToString(indices.shape) + " exceed data " + shapeToString(data.shape) + " on axis " + std::to_string(d));
  return Status::ok();
}

// Data offset (in elements) of every position of `indices` along `axis` (ElementWise indexing).
std::vector<int64_t> elementOffsets(const std::vector<int64_t>& data_shape, const std::vector<int64_t>& ishape,
                                    const std::vector<int64_t>& idx, size_t axis) {
  const auto ds = contiguousStrides(data_shape);
  const size_t rank = ishape.size();
  std::vector<int64_t> offsets(idx.size());
  std::vector<int64_t> pos(rank, 0);
  for (size_t i = 0; i < idx.size(); ++i) {
    int64_t off = idx[i] * ds[axis];
    for (size_t d = 0; d < rank; ++d)
      if (d != axis) off += pos[d] * ds[d];
    offsets[i] = off;
    for (size_t d = rank; d-- > 0;) {
      if (++pos[d] < ishape[d]) break;
      pos[d] = 0;
    }
  }
  return offsets;
}

Status gatherElements(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* data, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* indices, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *data));
  auto axis_or = normalizeAxis(ctx.attrInt("axis", 0), static_cast<int64_t>(data->shape.size()));
  if (!axis_or) return ctx.fail(axis_or.status().message());
  const auto axis = static_cast<size_t>(*axis_or);
  NNC_RETURN_IF_ERROR(checkElementShapes(ctx, *data, *indices, axis));
  NNC_ASSIGN_OR_RETURN(auto idx, readIndices(ctx, *indices, data->shape[axis]));
  const auto offsets = elementOffsets(data->shape, indices->shape, idx, axis);
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(data->dtype, indices->shape, &out);
  dispatchBySize(esize, [&](auto zero) {
    using T = decltype(zero);
    const T* src = data->dataAs<T>();
    T* dst = reinterpret_cast<T*>(out);
    const auto n = static_cast<int64_t>(offsets.size());
    NNC_PARALLEL_FOR_IF(n > kMinParallelWork,
      for (int64_t i = 0; i < n; ++i) dst[i] = src[offsets[static_cast<size_t>(i)]];);
  });
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

// GatherND/ScatterND addressing: data offsets (elements) of every index tuple, and slice size.
struct NdPlan {
  std::vector<int64_t> offsets;
  int64_t slice = 1;
  std::vector<int64_t> out_shape;  // indices.shape[:-1] + data.shape[b+k:]
};

Expected<NdPlan> planNd(const KernelContext& ctx, const Tensor& data, const Tensor& indices, int64_t batch_dims) {
  const auto r = static_cast<int64_t>(data.shape.size()), q = static_cast<int64_t>(indices.shape.size());
  if (q < 1) return ctx.fail("indices must have rank >= 1");
  const int64_t k = indices.shape.back();
  if (batch_dims < 0 || batch_dims >= std::min(r, q)) return ctx.fail("batch_dims " + std::to_string(batch_dims) + " is out of range");
  if (k < 1 || k > r - batch_dims) return ctx.fail("the last dim of indices (" + std::to_string(k) + ") is out of range for data " + shapeToString(data.shape));
  const auto b = static_cast<size_t>(batch_dims);
  for (size_t d = 0; d < b; ++d)
    if (data.shape[d] != indices.shape[d]) return ctx.fail("batch dims of data and indices differ");
  NNC_ASSIGN_OR_RETURN(auto idx, readIntsOf(ctx, indices, "indices"));
  NdPlan plan;
  plan.out_shape.assign(indices.shape.begin(), indices.shape.end() - 1);
  plan.out_shape.insert(plan.out_shape.end(), data.shape.begin() + static_cast<ptrdiff_t>(b) + k, data.shape.end());
  plan.slice = product(data.shape, b + static_cast<size_t>(k));
  const auto ds = contiguousStrides(data.shape);
  const int64_t batch_stride = product(data.shape, b);
  const int64_t tuples = product(indices.shape, 0, indices.shape.size() - 1);
  const int64_t per_batch = product(indices.shape, b, indices.shape.size() - 1);
  plan.offsets.resize(static_cast<size_t>(tuples));
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = (per_batch ? t / per_batch : 0) * batch_stride;
    for (int64_t j = 0; j < k; ++j) {
      int64_t i = idx[static_cast<size_t>(t * k + j)];
      const int64_t dim = data.shape[b + static_cast<size_t>(j)];
      if (i < -dim || i >= dim) return ctx.fail("index " + std::to_string(i) + " is out of range for a dim of size " + std::to_string(dim));
      if (i < 0) i += dim;
      off += i * ds[b + static_cast<size_t>(j)];
    }
    plan.offsets[static_cast<size_t>(t)] = off;
  }
  return plan;
}

Status gatherNd(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* data, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* indices, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *data));
  NNC_ASSIGN_OR_RETURN(NdPlan plan, planNd(ctx, *data, *indices, ctx.attrInt("batch_dims", 0)));
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(data->dtype, plan.out_shape, &out);
  const int64_t block = plan.slice * static_cast<int64_t>(esize);
  const auto n = static_cast<int64_t>(plan.offsets.size());
  NNC_PARALLEL_FOR_IF(n * block > 4 * kMinParallelWork && n > 1,
    for (int64_t t = 0; t < n; ++t)
      std::memcpy(out + t * block, data->bytes() + plan.offsets[static_cast<size_t>(t)] * static_cast<int64_t>(esize), static_cast<size_t>(block)););
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

// dst[i] = op(dst[i], src[i]) for i < n.
using ReduceFn = void (*)(uint8_t* dst, const uint8_t* src, int64_t n);

template <typename T, typename Op>
void reduceTyped(uint8_t* dst, const uint8_t* src, int64_t n) {
  T* d = reinterpret_cast<T*>(dst);
  const T* s = reinterpret_cast<const T*>(src);
  for (int64_t i = 0; i < n; ++i) d[i] = Op::apply(d[i], s[i]);
}

// 16-bit floats reduce in float32 and round back, as ONNX Runtime computes them.
template <bool kBf16, typename Op>
void reduceHalf(uint8_t* dst, const uint8_t* src, int64_t n) {
  uint16_t* d = reinterpret_cast<uint16_t*>(dst);
  const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    const float a = kBf16 ? bfloat16ToFloat(d[i]) : halfToFloat(d[i]);
    const float b = kBf16 ? bfloat16ToFloat(s[i]) : halfToFloat(s[i]);
    const float r = Op::apply(a, b);
    d[i] = kBf16 ? floatToBfloat16(r) : floatToHalf(r);
  }
}

struct AddR { template <typename T> static T apply(T a, T b) { return static_cast<T>(a + b); } };
struct MulR { template <typename T> static T apply(T a, T b) { return static_cast<T>(a * b); } };
struct MaxR { template <typename T> static T apply(T a, T b) { return std::max(a, b); } };
struct MinR { template <typename T> static T apply(T a, T b) { return std::min(a, b); } };

template <typename Op>
ReduceFn reduceFor(DType dtype) {
  if (dtype == DType::kFloat16) return reduceHalf<false, Op>;
  if (dtype == DType::kBFloat16) return reduceHalf<true, Op>;
  ReduceFn fn = nullptr;
  dispatchNumeric(dtype, [&](auto zero) { fn = reduceTyped<decltype(zero), Op>; });
  return fn;
}

// The reduction of a Scatter op: nullptr for "none" (plain copy), or an error.
Expected<ReduceFn> reductionOf(const KernelContext& ctx, DType dtype) {
  const std::string r = ctx.attrString("reduction", "none");
  ReduceFn fn = nullptr;
  if (r == "none") return fn;
  if (r == "add") fn = reduceFor<AddR>(dtype);
  else if (r == "mul") fn = reduceFor<MulR>(dtype);
  else if (r == "max") fn = reduceFor<MaxR>(dtype);
  else if (r == "min") fn = reduceFor<MinR>(dtype);
  else return ctx.fail("unknown reduction '" + r + "'");
  if (fn == nullptr) return ctx.unsupportedHere("reduction '" + r + "' on type " + dtypeName(dtype) + " is not supported");
  return fn;
}

// A writable copy of the data input (scatter outputs start as the data).
Tensor copyOf(const Tensor& t, uint8_t** out) {
  Tensor result = Tensor::uninitialized(t.dtype, t.shape, out);
  if (t.byteSize()) copyStrided(t.bytes(), *out, 1, {static_cast<int64_t>(t.byteSize())}, {1});
  return result;
}

Status scatterNd(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* data, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* indices, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(const Tensor* updates, ctx.requiredInput(2));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *data));
  if (updates->dtype != data->dtype) return ctx.fail("updates and data have different types");
  NNC_ASSIGN_OR_RETURN(ReduceFn reduce, reductionOf(ctx, data->dtype));
  if (indices->shape.empty()) return ctx.fail("indices must have rank >= 1");
  NNC_ASSIGN_OR_RETURN(NdPlan plan, planNd(ctx, *data, *indices, 0));
  if (updates->shape != plan.out_shape)
    return ctx.fail("updates shape " + shapeToString(updates->shape) + " should be " + shapeToString(plan.out_shape));
  uint8_t* out = nullptr;
  Tensor result = copyOf(*data, &out);
  const int64_t block = plan.slice * static_cast<int64_t>(esize);
  // In order, so duplicate indices reduce (or overwrite) deterministically.
  for (size_t t = 0; t < plan.offsets.size(); ++t) {
    uint8_t* dst = out + plan.offsets[t] * static_cast<int64_t>(esize);
    const uint8_t* src = updates->bytes() + static_cast<int64_t>(t) * block;
    if (reduce) reduce(dst, src, plan.slice);
    else std::memcpy(dst, src, static_cast<size_t>(block));
  }
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status scatterElements(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* data, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* indices, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(const Tensor* updates, ctx.requiredInput(2));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *data));
  if (updates->dtype != data->dtype) return ctx.fail("updates and data have different types");
  if (updates->shape != indices->shape) return ctx.fail("updates and indices have different shapes");
  NNC_ASSIGN_OR_RETURN(ReduceFn reduce, reductionOf(ctx, data->dtype));
  auto axis_or = normalizeAxis(ctx.attrInt("axis", 0), static_cast<int64_t>(data->shape.size()));
  if (!axis_or) return ctx.fail(axis_or.status().message());
  const auto axis = static_cast<size_t>(*axis_or);
  NNC_RETURN_IF_ERROR(checkElementShapes(ctx, *data, *indices, axis));
  NNC_ASSIGN_OR_RETURN(auto idx, readIndices(ctx, *indices, data->shape[axis]));
  const auto offsets = elementOffsets(data->shape, indices->shape, idx, axis);
  uint8_t* out = nullptr;
  Tensor result = copyOf(*data, &out);
  const uint8_t* src = updates->bytes();
  for (size_t i = 0; i < offsets.size(); ++i) {
    uint8_t* dst = out + offsets[i] * static_cast<int64_t>(esize);
    if (reduce) reduce(dst, src + i * esize, 1);
    else std::memcpy(dst, src + i * esize, esize);
  }
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

}  // namespace

void registerGatherScatterOps(OpRegistry& registry) {
  registry.add({"", "Gather", 1, 1000, gather, true});
  registry.add({"", "GatherElements", 11, 1000, gatherElements, true});
  registry.add({"", "GatherND", 11, 1000, gatherNd, true});
  registry.add({"", "ScatterND", 11, 1000, scatterNd, true});
  registry.add({"", "ScatterElements", 11, 1000, scatterElements, true});
  registry.add({"", "Scatter", 9, 10, scatterElements, true});
}

}  // namespace shape
}  // namespace nnc::ops

// Layout changes that move whole elements: Transpose (1+; merges dims so common 4D perms become
// 2D/3D tiled copies, identity perms are zero-copy), DepthToSpace (1+, mode DCR/CRD from 11),
// SpaceToDepth (1+), Concat (1+, axis default 1 before opset 4), Split (split attribute before
// 13, input from 13, num_outputs from 18; zero-copy views when the parts are contiguous).
#include <algorithm>

#include "shape_util.h"
#include "parallel.h"

namespace nnc::ops {
namespace shape {
namespace {

// out = transpose(reshape(x, virt), perm), reshaped to `final_shape`.
Status permuteCopy(KernelContext& ctx, const Tensor& x, size_t esize, const std::vector<int64_t>& virt,
                   const std::vector<int64_t>& perm, std::vector<int64_t> final_shape) {
  const auto vstrides = contiguousStrides(virt);
  std::vector<int64_t> oshape(perm.size()), istrides(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) {
    oshape[d] = virt[static_cast<size_t>(perm[d])];
    istrides[d] = vstrides[static_cast<size_t>(perm[d])];
  }
  // Zero-copy when the non-trivial dims keep their order.
  int64_t last = -1;
  bool ordered = true;
  for (int64_t p : perm) {
    if (virt[static_cast<size_t>(p)] == 1) continue;
    ordered = ordered && p > last;
    last = p;
  }
  if (ordered) {
    ctx.setOutput(0, reshaped(x, std::move(final_shape)));
    return Status::ok();
  }
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(x.dtype, std::move(final_shape), &out);
  copyStrided(x.bytes(), out, esize, oshape, istrides);
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status transpose(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  const size_t rank = x->shape.size();
  std::vector<int64_t> perm = ctx.attrInts("perm");
  if (!ctx.hasAttr("perm"))
    for (size_t i = rank; i-- > 0;) perm.push_back(static_cast<int64_t>(i));
  if (perm.size() != rank) return ctx.fail("perm " + shapeToString(perm) + " does not match rank " + std::to_string(rank));
  std::vector<bool> seen(rank, false);
  for (int64_t& p : perm) {
    if (p < 0) p += static_cast<int64_t>(rank);  // lenient: a negative entry counts from the end
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)])
      return ctx.fail("perm " + shapeToString(ctx.attrInts("perm")) + " is not a permutation");
    seen[static_cast<size_t>(p)] = true;
  }
  std::vector<int64_t> out_shape(rank);
  for (size_t d = 0; d < rank; ++d) out_shape[d] = x->shape[static_cast<size_t>(perm[d])];
  return permuteCopy(ctx, *x, esize, x->shape, perm, std::move(out_shape));
}

Status depthSpace(KernelContext& ctx, bool to_space) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  if (x->shape.size() != 4) return ctx.fail("input must be 4D (NCHW), got " + shapeToString(x->shape));
  const int64_t b = ctx.attrInt("blocksize", 0);
  if (b <= 0 || b > (1 << 16)) return ctx.fail("blocksize " + std::to_string(b) + " is out of range");
  const int64_t n = x->shape[0], c = x->shape[1], h = x->shape[2], w = x->shape[3];
  if (to_space) {
    if (c % (b * b) != 0) return ctx.fail("channels " + std::to_string(c) + " are not divisible by blocksize^2");
    const int64_t c2 = c / (b * b);
    const std::string mode = ctx.attrString("mode", "DCR");
    if (mode == "DCR") return permuteCopy(ctx, *x, esize, {n, b, b, c2, h, w}, {0, 3, 4, 1, 5, 2}, {n, c2, h * b, w * b});
    if (mode == "CRD") return permuteCopy(ctx, *x, esize, {n, c2, b, b, h, w}, {0, 1, 4, 2, 5, 3}, {n, c2, h * b, w * b});
    return ctx.fail("unknown mode '" + mode + "'");
  }
  if (h % b != 0 || w % b != 0) return ctx.fail("spatial dims " + shapeToString(x->shape) + " are not divisible by blocksize");
  return permuteCopy(ctx, *x, esize, {n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4}, {n, c * b * b, h / b, w / b});
}

Status depthToSpace(KernelContext& ctx) { return depthSpace(ctx, true); }
Status spaceToDepth(KernelContext& ctx) { return depthSpace(ctx, false); }

Status concat(KernelContext& ctx) {
  std::vector<const Tensor*> inputs;
  for (size_t i = 0; i < ctx.inputCount(); ++i)
    if (const Tensor* t = ctx.input(i)) inputs.push_back(t);
  if (inputs.empty()) return ctx.fail("needs at least one input");
  const Tensor& first = *inputs[0];
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, first));
  if (ctx.opset() >= 4 && !ctx.hasAttr("axis")) return ctx.fail("attribute 'axis' is required");
  const int64_t rank = static_cast<int64_t>(first.shape.size());
  auto axis_or = normalizeAxis(ctx.attrInt("axis", 1), rank);
  if (!axis_or) return ctx.fail(axis_or.status().message());
  const auto axis = static_cast<size_t>(*axis_or);
  std::vector<int64_t> out_shape = first.shape;
  out_shape[axis] = 0;
  for (const Tensor* t : inputs) {
    bool same = t->dtype == first.dtype && t->shape.size() == first.shape.size();
    for (size_t d = 0; same && d < first.shape.size(); ++d) same = d == axis || t->shape[d] == first.shape[d];
    if (!same)
      return ctx.fail("inputs " + shapeToString(first.shape) + " " + dtypeName(first.dtype) + " and " + shapeToString(t->shape) + " " +
                      dtypeName(t->dtype) + " cannot be concatenated on axis " + std::to_string(axis));
    out_shape[axis] += t->shape[axis];
  }
  if (inputs.size() == 1) {
    ctx.setOutput(0, reshaped(first, first.shape));
    return Status::ok();
  }
  const int64_t outer = product(first.shape, 0, axis);
  const int64_t row = product(out_shape, axis) * static_cast<int64_t>(esize);
  std::vector<int64_t> block(inputs.size()), offset(inputs.size());
  for (size_t i = 0, off = 0; i < inputs.size(); ++i) {
    block[i] = product(inputs[i]->shape, axis) * static_cast<int64_t>(esize);
    offset[i] = static_cast<int64_t>(off);
    off += static_cast<size_t>(block[i]);
  }
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(first.dtype, out_shape, &out);
  const auto k = static_cast<int64_t>(inputs.size());
  const int64_t tasks = outer * k;
  NNC_PARALLEL_FOR_IF(outer * row > 4 * kMinParallelWork && tasks > 1,
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t o = task / k;
      const auto i = static_cast<size_t>(task % k);
      if (block[i] > 0)
        std::memcpy(out + o * row + offset[i], inputs[i]->bytes() + o * block[i], static_cast<size_t>(block[i]));
    });
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status split(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *x));
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  auto axis_or = normalizeAxis(ctx.attrInt("axis", 0), rank);
  if (!axis_or) return ctx.fail(axis_or.status().message());
  const auto axis = static_cast<size_t>(*axis_or);
  const int64_t dim = x->shape[axis];
  const auto n = static_cast<int64_t>(ctx.outputCount());
  if (n == 0) return ctx.fail("has no outputs");
  std::vector<int64_t> sizes;
  if (ctx.opset() < 13 && ctx.hasAttr("split")) {
    sizes = ctx.attrInts("split");
  } else if ((ctx.opset() >= 13 || ctx.opset() < 2) && ctx.input(1) != nullptr) {
    NNC_ASSIGN_OR_RETURN(sizes, readIntsOf(ctx, *ctx.input(1), "split"));
  } else if (ctx.opset() >= 18 && ctx.hasAttr("num_outputs")) {
    if (ctx.attrInt("num_outputs", 0) != n) return ctx.fail("num_outputs does not match the number of outputs");
    const int64_t chunk = (dim + n - 1) / n;  // the last chunk may be smaller
    for (int64_t i = 0; i < n; ++i) sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
  } else {
    if (dim % n != 0) return ctx.fail("dim " + std::to_string(dim) + " cannot be split into " + std::to_string(n) + " equal parts");
    sizes.assign(static_cast<size_t>(n), dim / n);
  }
  if (static_cast<int64_t>(sizes.size()) != n)
    return ctx.fail("split " + shapeToString(sizes) + " does not match the " + std::to_string(n) + " outputs");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) return ctx.fail("split " + shapeToString(sizes) + " has a negative size");
    total += s;
  }
  if (total != dim) return ctx.fail("split " + shapeToString(sizes) + " does not add up to dim " + std::to_string(dim));
  const int64_t outer = product(x->shape, 0, axis);
  const int64_t inner = product(x->shape, axis + 1) * static_cast<int64_t>(esize);
  const int64_t row = dim * inner;
  int64_t start = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> shape = x->shape;
    shape[axis] = sizes[static_cast<size_t>(i)];
    const int64_t block = sizes[static_cast<size_t>(i)] * inner;
    if (outer == 1) {
      // Each part is a contiguous range of the input (a leading axis, or batch 1): share it.
      ctx.setOutput(static_cast<size_t>(i), viewOf(*x, std::move(shape), static_cast<size_t>(start * inner)));
    } else {
      uint8_t* out = nullptr;
      Tensor result = Tensor::uninitialized(x->dtype, shape, &out);
      const uint8_t* in = x->bytes() + start * inner;
      NNC_PARALLEL_FOR_IF(outer * block > 4 * kMinParallelWork && outer > 1,
        for (int64_t o = 0; o < outer; ++o)
          if (block > 0) std::memcpy(out + o * block, in + o * row, static_cast<size_t>(block)););
      ctx.setOutput(static_cast<size_t>(i), std::move(result));
    }
    start += sizes[static_cast<size_t>(i)];
  }
  return Status::ok();
}

}  // namespace

void registerLayoutOps(OpRegistry& registry) {
  registry.add({"", "Transpose", 1, 1000, transpose, true});
  registry.add({"", "DepthToSpace", 1, 1000, depthToSpace, true});
  registry.add({"", "SpaceToDepth", 1, 1000, spaceToDepth, true});
  registry.add({"", "Concat", 1, 1000, concat, true});
  registry.add({"", "Split", 1, 1000, split, true});
}

}  // namespace shape
}  // namespace nnc::ops

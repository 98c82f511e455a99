// Shape-only ops and shape-derived constants, all zero-copy where the data does not change:
// Reshape (1-4 shape attribute, 5+ input, 14+ allowzero), Flatten (1+, negative axis 11+),
// Squeeze/Unsqueeze (axes attribute 1-12, input 13+), Shape (start/end 15+), Size,
// ConstantOfShape (9+), Range (11+; 16-bit floats via float32), Dropout (inference; mask bool
// from 10, type T before), EyeLike (9+). Also registerShapeOps, which registers the whole family.
#include <algorithm>
#include <cmath>

#include "shape_util.h"

namespace nnc::ops {
namespace shape {
namespace {

Status reshape(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  std::vector<int64_t> target;
  if (ctx.opset() < 5) {
    target = ctx.attrInts("shape");
  } else {
    NNC_ASSIGN_OR_RETURN(const Tensor* s, ctx.requiredInput(1));
    NNC_ASSIGN_OR_RETURN(target, readIntsOf(ctx, *s, "shape"));
  }
  const bool allowzero = ctx.attrInt("allowzero", 0) != 0;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t& d = target[i];
    if (d == 0 && !allowzero) {
      if (i >= x->shape.size())
        return ctx.fail("shape " + shapeToString(target) + " copies dim " + std::to_string(i) + " (0) but the input has rank " +
                        std::to_string(x->shape.size()));
      d = x->shape[i];
    }
    if (d == -1) {
      if (infer >= 0) return ctx.fail("shape " + shapeToString(target) + " has more than one -1");
      infer = static_cast<int>(i);
      continue;
    }
    if (d < 0) return ctx.fail("shape " + shapeToString(target) + " has a negative dim");
    if (d != 0 && known > INT64_MAX / d) return ctx.fail("shape " + shapeToString(target) + " overflows");
    known *= d;
  }
  const int64_t count = x->elementCount();
  if (infer >= 0) {
    if (known == 0 || count % known != 0)
      return ctx.fail("cannot reshape " + shapeToString(x->shape) + " to " + shapeToString(target));
    target[static_cast<size_t>(infer)] = count / known;
  } else if (known != count) {
    return ctx.fail("cannot reshape " + shapeToString(x->shape) + " (" + std::to_string(count) + " elements) to " +
                    shapeToString(target));
  }
  ctx.setOutput(0, reshaped(*x, std::move(target)));
  return Status::ok();
}

Status flatten(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  int64_t axis = ctx.attrInt("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) return ctx.fail("axis " + std::to_string(ctx.attrInt("axis", 1)) + " is out of range for rank " + std::to_string(rank));
  const auto a = static_cast<size_t>(axis);
  ctx.setOutput(0, reshaped(*x, {product(x->shape, 0, a), product(x->shape, a)}));
  return Status::ok();
}

// Axes from the attribute (before opset 13) or the optional second input.
Expected<std::vector<int64_t>> axesOf(KernelContext& ctx) {
  if (ctx.opset() < 13) return ctx.attrInts("axes");
  if (const Tensor* t = ctx.input(1)) return readIntsOf(ctx, *t, "axes");
  return std::vector<int64_t>{};
}

Status squeeze(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(auto axes, axesOf(ctx));
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  std::vector<bool> drop(x->shape.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < x->shape.size(); ++i) drop[i] = x->shape[i] == 1;
  }
  for (int64_t a : axes) {
    auto axis = normalizeAxis(a, rank);
    if (!axis) return ctx.fail(axis.status().message());
    if (x->shape[static_cast<size_t>(*axis)] != 1)
      return ctx.fail("cannot squeeze axis " + std::to_string(a) + " of shape " + shapeToString(x->shape) + ": its size is not 1");
    drop[static_cast<size_t>(*axis)] = true;
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < x->shape.size(); ++i)
    if (!drop[i]) out.push_back(x->shape[i]);
  ctx.setOutput(0, reshaped(*x, std::move(out)));
  return Status::ok();
}

Status unsqueeze(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(auto axes, axesOf(ctx));
  if (ctx.opset() >= 13 && ctx.input(1) == nullptr) return ctx.fail("input 1 (axes) is required");
  const int64_t rank = static_cast<int64_t>(x->shape.size() + axes.size());
  std::vector<bool> inserted(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    auto axis = normalizeAxis(a, rank);
    if (!axis) return ctx.fail(axis.status().message());
    if (inserted[static_cast<size_t>(*axis)]) return ctx.fail("axis " + std::to_string(a) + " is repeated");
    inserted[static_cast<size_t>(*axis)] = true;
  }
  std::vector<int64_t> out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) out.push_back(inserted[static_cast<size_t>(i)] ? 1 : x->shape[next++]);
  ctx.setOutput(0, reshaped(*x, std::move(out)));
  return Status::ok();
}

Status shapeOp(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  auto clampAxis = [&](int64_t a) { return std::clamp(a < 0 ? a + rank : a, int64_t{0}, rank); };
  const int64_t start = clampAxis(ctx.attrInt("start", 0));
  const int64_t end = ctx.hasAttr("end") ? clampAxis(ctx.attrInt("end", rank)) : rank;
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(x->shape[static_cast<size_t>(i)]);
  ctx.setOutput(0, Tensor::fromValues<int64_t>(DType::kInt64, {static_cast<int64_t>(dims.size())}, dims));
  return Status::ok();
}

Status size(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  ctx.setOutput(0, Tensor::fromValues<int64_t>(DType::kInt64, {}, {x->elementCount()}));
  return Status::ok();
}

Status constantOfShape(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* s, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(auto shape, readIntsOf(ctx, *s, "shape"));
  Tensor zero = Tensor::fromValues<float>(DType::kFloat, {1}, {0.0f});
  const Tensor* value = ctx.attrTensor("value");
  if (value == nullptr) value = &zero;
  if (value->elementCount() != 1) return ctx.fail("value must have one element");
  NNC_ASSIGN_OR_RETURN(size_t esize, movableBytes(ctx, *value));
  NNC_RETURN_IF_ERROR(checkShape(ctx, shape, esize));
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(value->dtype, shape, &out);
  fillElements(out, value->bytes(), esize, result.elementCount());
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

Status range(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* start, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* limit, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(const Tensor* delta, ctx.requiredInput(2));
  for (const Tensor* t : {start, limit, delta}) {
    if (t->dtype != start->dtype) return ctx.fail("start, limit and delta must have the same type");
    if (t->elementCount() != 1) return ctx.fail("start, limit and delta must be scalars");
  }
  Status status;
  const bool handled = dispatchNumeric(start->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T s = start->dataAs<T>()[0], l = limit->dataAs<T>()[0], d = delta->dataAs<T>()[0];
    if (d == T(0)) {
      status = ctx.fail("delta is zero");
      return;
    }
    // Count as ONNX Runtime does: ceil((limit - start) / delta) in double.
    const double n = std::ceil((static_cast<double>(l) - static_cast<double>(s)) / static_cast<double>(d));
    if (!(n < 1e12)) {
      status = ctx.fail("range has too many elements");
      return;
    }
    const int64_t count = n > 0 ? static_cast<int64_t>(n) : 0;
    status = checkShape(ctx, {count}, sizeof(T));
    if (!status.isOk()) return;
    T* out = nullptr;
    Tensor result = allocate<T>(start->dtype, {count}, &out);
    T v = s;  // accumulate like the spec's loop body (and ONNX Runtime)
    for (int64_t i = 0; i < count; ++i) {
      out[i] = v;
      if (i + 1 < count) v = static_cast<T>(v + d);  // no add past the last element: no overflow
    }
    ctx.setOutput(0, std::move(result));
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(start->dtype) + " is not supported");
  return status;
}

Status dropout(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  double ratio = ctx.attrFloat("ratio", 0.5f);
  bool training = false;
  if (ctx.opset() >= 12) {
    if (const Tensor* r = ctx.input(1)) {
      auto v = readDoubles(*r, "ratio");
      if (!v || v->size() != 1) return ctx.fail("ratio must be a numeric scalar");
      ratio = (*v)[0];
    }
    if (const Tensor* t = ctx.input(2)) {
      if (t->dtype != DType::kBool || t->elementCount() != 1) return ctx.fail("training_mode must be a bool scalar");
      training = t->bytes()[0] != 0;
    }
  }
  // Training with ratio 0 keeps everything, so it is deterministic; other ratios need an RNG.
  if (training && ratio != 0) return ctx.unsupportedHere("training_mode with a nonzero ratio is not supported");
  ctx.setOutput(0, reshaped(*x, x->shape));
  if (ctx.outputCount() > 1 && ctx.outputWanted(1)) {
    const DType mask_type = ctx.opset() >= 10 ? DType::kBool : x->dtype;
    const size_t esize = elementBytes(mask_type);
    uint8_t one[16] = {};
    if (esize == 0 || !encodeScalar(mask_type, 1.0, one)) return ctx.unsupportedHere("mask type " + dtypeName(mask_type) + " is not supported");
    uint8_t* out = nullptr;
    Tensor mask = Tensor::uninitialized(mask_type, x->shape, &out);
    fillElements(out, one, esize, mask.elementCount());
    ctx.setOutput(1, std::move(mask));
  }
  return Status::ok();
}

Status eyeLike(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (x->shape.size() != 2) return ctx.fail("input must be 2D, got shape " + shapeToString(x->shape));
  DType dtype = x->dtype;
  if (ctx.hasAttr("dtype")) {
    auto d = dtypeFromOnnx(static_cast<int32_t>(ctx.attrInt("dtype", 0)));
    if (!d) return ctx.fail("unknown dtype " + std::to_string(ctx.attrInt("dtype", 0)));
    dtype = *d;
  }
  const size_t esize = elementBytes(dtype);
  uint8_t one[16] = {};
  if (esize == 0 || !encodeScalar(dtype, 1.0, one)) return ctx.unsupportedHere("type " + dtypeName(dtype) + " is not supported");
  const int64_t k = ctx.attrInt("k", 0), rows = x->shape[0], cols = x->shape[1];
  uint8_t* out = nullptr;
  Tensor result = Tensor::zeros(dtype, x->shape, &out);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t j = i + k;
    if (j >= 0 && j < cols) std::memcpy(out + static_cast<size_t>(i * cols + j) * esize, one, esize);
  }
  ctx.setOutput(0, std::move(result));
  return Status::ok();
}

}  // namespace
}  // namespace shape

void registerShapeOps(OpRegistry& registry) {
  using namespace shape;
  registry.add({"", "Reshape", 1, 1000, reshape, true});
  registry.add({"", "Flatten", 1, 1000, flatten, true});
  registry.add({"", "Squeeze", 1, 1000, squeeze, true});
  registry.add({"", "Unsqueeze", 1, 1000, unsqueeze, true});
  registry.add({"", "Shape", 1, 1000, shapeOp, true});
  registry.add({"", "Size", 1, 1000, size, true});
  registry.add({"", "ConstantOfShape", 9, 1000, constantOfShape, true});
  // Range computes values: float16/bfloat16 go through float32 like other arithmetic kernels.
  registry.add({"", "Range", 11, 1000, range, false});
  registry.add({"", "Dropout", 1, 1000, dropout, true});
  registry.add({"", "EyeLike", 9, 1000, eyeLike, true});
  registerLayoutOps(registry);
  registerSliceOps(registry);
  registerGatherScatterOps(registry);
  registerMiscOps(registry);
}

}  // namespace nnc::ops

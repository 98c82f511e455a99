// Backward of the ops that only change the shape (Flatten, Reshape, Squeeze, Unsqueeze,
// Identity): the gradient is the output gradient with the input's shape (shape/axes inputs
// are integers and get no gradient); Transpose and Concat route it back by index.
#include <algorithm>

#include "nncompress/train/backward.h"

namespace nnc::train {

Status reshapeLikeBackward(BackwardContext& ctx) {
  if (!ctx.want(0)) return Status::ok();
  Grad dx;
  dx.shape = ctx.inputs[0]->shape;
  dx.data = ctx.output_grads[0]->data;
  ctx.setGrad(0, std::move(dx));
  return Status::ok();
}

}  // namespace nnc::train

namespace nnc::train {

namespace {

// Row-major strides of a shape.
std::vector<int64_t> stridesOf(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

}  // namespace

// y = transpose(x, perm): y[i0..] = x[i_perm...], so dx[j] gathers from dy through the same map.
Status transposeBackward(BackwardContext& ctx) {
  const std::vector<int64_t>& in_shape = ctx.inputs[0]->shape;
  const size_t rank = in_shape.size();
  std::vector<int64_t> perm;
  if (const Attribute* a = ctx.node.attr("perm")) perm = a->ints;
  if (perm.empty())
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
  if (perm.size() != rank) return ctx.fail("perm does not match the input rank");
  const std::vector<int64_t> in_strides = stridesOf(in_shape);
  std::vector<int64_t> out_shape(rank);
  for (size_t i = 0; i < rank; ++i) out_shape[i] = in_shape[static_cast<size_t>(perm[i])];
  const std::vector<float>& g = ctx.output_grads[0]->data;
  Grad dx = Grad::zeros(in_shape);
  std::vector<int64_t> idx(rank, 0);
  for (size_t o = 0; o < g.size(); ++o) {
    int64_t at = 0;
    for (size_t i = 0; i < rank; ++i) at += idx[i] * in_strides[static_cast<size_t>(perm[i])];
    dx.data[static_cast<size_t>(at)] = g[o];
    for (size_t axis = rank; axis-- > 0;) {
      if (++idx[axis] < out_shape[axis]) break;
      idx[axis] = 0;
    }
  }
  ctx.setGrad(0, std::move(dx));
  return Status::ok();
}

// Each input's gradient is its slab of the output gradient along the axis.
Status concatBackward(BackwardContext& ctx) {
  const std::vector<int64_t>& out_shape = ctx.outputs[0]->shape;
  const int64_t rank = static_cast<int64_t>(out_shape.size());
  int64_t axis = ctx.node.attrInt("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return ctx.fail("axis out of range");
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= out_shape[static_cast<size_t>(i)];
  for (int64_t i = axis + 1; i < rank; ++i) inner *= out_shape[static_cast<size_t>(i)];
  const int64_t out_len = out_shape[static_cast<size_t>(axis)];
  const std::vector<float>& g = ctx.output_grads[0]->data;
  int64_t offset = 0;
  for (size_t k = 0; k < ctx.inputs.size(); ++k) {
    const int64_t len = ctx.inputs[k]->shape.empty() ? 0 : ctx.inputs[k]->shape[static_cast<size_t>(axis)];
    if (ctx.want(k)) {
      Grad dx = Grad::zeros(ctx.inputs[k]->shape);
      for (int64_t o = 0; o < outer; ++o)
        std::copy_n(g.begin() + (o * out_len + offset) * inner, len * inner, dx.data.begin() + o * len * inner);
      ctx.setGrad(k, std::move(dx));
    }
    offset += len;
  }
  return Status::ok();
}

}  // namespace nnc::train

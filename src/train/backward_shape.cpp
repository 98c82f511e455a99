// Backward of the ops that only change the shape (Flatten, Reshape, Squeeze, Unsqueeze,
// Identity): the gradient is the output gradient with the input's shape. Shape/axes inputs
// are integers and get no gradient.
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

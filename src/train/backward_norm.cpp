// Backward of BatchNormalization as the runtime computes it: with the running statistics
// (inference form, y = scale (x - mean) / sqrt(var + eps) + B). Fine-tuning then trains the
// affine parameters and everything around them with the statistics frozen; training with
// batch statistics (and updating the running averages) needs a training-mode forward and is
// not implemented yet. The statistics get no gradient, so they never change.
#include <cmath>

#include "nncompress/train/backward.h"

namespace nnc::train {

Status batchNormBackward(BackwardContext& ctx) {
  if (ctx.node.attrInt("training_mode", 0) != 0) return ctx.fail("training_mode=1 has no backward yet");
  const std::vector<int64_t>& shape = ctx.inputs[0]->shape;
  if (shape.size() < 2) return ctx.fail("input must be [N, C, ...]");
  for (size_t i = 1; i < 5; ++i)
    if (ctx.inputs.size() <= i || ctx.inputs[i] == nullptr) return ctx.fail("scale, B, mean and var are required");
  const int64_t n = shape[0], c = shape[1];
  int64_t spatial = 1;
  for (size_t i = 2; i < shape.size(); ++i) spatial *= shape[i];
  const float eps = ctx.node.attrFloat("epsilon", 1e-5f);
  const float* x = ctx.in(0);
  const float* scale = ctx.in(1);
  const float* mean = ctx.in(3);
  const float* var = ctx.in(4);
  const std::vector<float>& g = ctx.output_grads[0]->data;
  Grad dx = Grad::zeros(shape), dscale = Grad::zeros(ctx.inputs[1]->shape), db = Grad::zeros(ctx.inputs[2]->shape);
  for (int64_t ch = 0; ch < c; ++ch) {
    const float inv_std = 1.0f / std::sqrt(var[ch] + eps);
    double sum_g = 0, sum_g_xhat = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t i = 0; i < spatial; ++i) {
        const size_t at = static_cast<size_t>((b * c + ch) * spatial + i);
        sum_g += g[at];
        sum_g_xhat += static_cast<double>(g[at]) * (x[at] - mean[ch]) * inv_std;
        dx.data[at] = g[at] * scale[ch] * inv_std;
      }
    dscale.data[static_cast<size_t>(ch)] = static_cast<float>(sum_g_xhat);
    db.data[static_cast<size_t>(ch)] = static_cast<float>(sum_g);
  }
  if (ctx.want(0)) ctx.setGrad(0, std::move(dx));
  if (ctx.want(1)) ctx.setGrad(1, std::move(dscale));
  if (ctx.want(2)) ctx.setGrad(2, std::move(db));
  return Status::ok();
}

}  // namespace nnc::train

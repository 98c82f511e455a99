// Backward of the elementwise ops: Add/Sub/Mul/Div with numpy broadcasting (a broadcast
// input's gradient is summed back to its shape), Relu and Clip (ReLU6).
#include <limits>

#include "nncompress/train/backward.h"

namespace nnc::train {

namespace {

// Shared by the four binary ops: the per-element partial derivatives dOut/dA and dOut/dB
// given a, b (and the output), accumulated into the broadcast sources.
template <typename Partials>
Status binaryBackward(BackwardContext& ctx, Partials partials) {
  const Tensor& a = *ctx.inputs[0];
  const Tensor& b = *ctx.inputs[1];
  auto out_shape = broadcastShape(a.shape, b.shape);
  if (!out_shape) return ctx.fail("input shapes do not broadcast");
  const Grad& g = *ctx.output_grads[0];
  const std::vector<int64_t> ia = broadcastSourceIndex(*out_shape, a.shape);
  const std::vector<int64_t> ib = broadcastSourceIndex(*out_shape, b.shape);
  const float* pa = ctx.in(0);
  const float* pb = ctx.in(1);
  Grad da = Grad::zeros(a.shape), db = Grad::zeros(b.shape);
  for (size_t i = 0; i < g.data.size(); ++i) {
    float dfa = 0, dfb = 0;
    partials(pa[ia[i]], pb[ib[i]], dfa, dfb);
    da.data[static_cast<size_t>(ia[i])] += g.data[i] * dfa;
    db.data[static_cast<size_t>(ib[i])] += g.data[i] * dfb;
  }
  if (ctx.want(0)) ctx.setGrad(0, std::move(da));
  if (ctx.want(1)) ctx.setGrad(1, std::move(db));
  return Status::ok();
}

}  // namespace

Status addBackward(BackwardContext& ctx) {
  return binaryBackward(ctx, [](float, float, float& da, float& db) { da = 1, db = 1; });
}

Status subBackward(BackwardContext& ctx) {
  return binaryBackward(ctx, [](float, float, float& da, float& db) { da = 1, db = -1; });
}

Status mulBackward(BackwardContext& ctx) {
  return binaryBackward(ctx, [](float a, float b, float& da, float& db) { da = b, db = a; });
}

Status divBackward(BackwardContext& ctx) {
  return binaryBackward(ctx, [](float a, float b, float& da, float& db) {
    da = 1 / b;
    db = -a / (b * b);
  });
}

Status reluBackward(BackwardContext& ctx) {
  const Grad& g = *ctx.output_grads[0];
  const float* x = ctx.in(0);
  Grad dx = Grad::zeros(ctx.inputs[0]->shape);
  for (size_t i = 0; i < g.data.size(); ++i) dx.data[i] = x[i] > 0 ? g.data[i] : 0.0f;
  ctx.setGrad(0, std::move(dx));
  return Status::ok();
}

// Gradient passes where min < x < max (the bounds themselves are not trained).
Status clipBackward(BackwardContext& ctx) {
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (ctx.opset < 11) {
    lo = ctx.node.attrFloat("min", lo);
    hi = ctx.node.attrFloat("max", hi);
  } else {
    if (ctx.inputs.size() > 1 && ctx.inputs[1] != nullptr) lo = ctx.in(1)[0];
    if (ctx.inputs.size() > 2 && ctx.inputs[2] != nullptr) hi = ctx.in(2)[0];
  }
  const Grad& g = *ctx.output_grads[0];
  const float* x = ctx.in(0);
  Grad dx = Grad::zeros(ctx.inputs[0]->shape);
  for (size_t i = 0; i < g.data.size(); ++i) dx.data[i] = (x[i] > lo && x[i] < hi) ? g.data[i] : 0.0f;
  if (ctx.want(0)) ctx.setGrad(0, std::move(dx));
  return Status::ok();
}

}  // namespace nnc::train

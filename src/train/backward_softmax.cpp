// Backward of Softmax and LogSoftmax from their outputs: along the axis,
// dx = y (g - sum(g y)) for Softmax and dx = g - softmax(x) sum(g) for LogSoftmax.
// Before opset 13 the input is seen as 2-D [prod(dims < axis), prod(dims >= axis)].
#include <cmath>

#include "nncompress/train/backward.h"

namespace nnc::train {

namespace {

// outer x axis_len x inner blocks of the reduction.
struct Layout {
  int64_t outer = 1, len = 1, inner = 1;
};

Expected<Layout> layoutOf(const BackwardContext& ctx) {
  const std::vector<int64_t>& shape = ctx.inputs[0]->shape;
  const int64_t rank = static_cast<int64_t>(shape.size());
  int64_t axis = ctx.node.attrInt("axis", ctx.opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= std::max<int64_t>(rank, 1)) return ctx.fail("axis out of range");
  Layout l;
  for (int64_t i = 0; i < rank; ++i) {
    if (i < axis) l.outer *= shape[i];
    else if (i == axis || ctx.opset < 13) l.len *= shape[i];
    else l.inner *= shape[i];
  }
  return l;
}

template <typename Row>
Status softmaxFamily(BackwardContext& ctx, Row row) {
  auto layout = layoutOf(ctx);
  if (!layout) return layout.status();
  const Layout l = *layout;
  const float* y = ctx.out(0);
  const std::vector<float>& g = ctx.output_grads[0]->data;
  Grad dx = Grad::zeros(ctx.inputs[0]->shape);
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t in = 0; in < l.inner; ++in) {
      const int64_t base = o * l.len * l.inner + in;
      row(y + base, g.data() + base, dx.data.data() + base, l.len, l.inner);
    }
  ctx.setGrad(0, std::move(dx));
  return Status::ok();
}

}  // namespace

Status softmaxBackward(BackwardContext& ctx) {
  return softmaxFamily(ctx, [](const float* y, const float* g, float* dx, int64_t len, int64_t stride) {
    double dot = 0;
    for (int64_t j = 0; j < len; ++j) dot += static_cast<double>(g[j * stride]) * y[j * stride];
    for (int64_t j = 0; j < len; ++j) dx[j * stride] = y[j * stride] * (g[j * stride] - static_cast<float>(dot));
  });
}

Status logSoftmaxBackward(BackwardContext& ctx) {
  return softmaxFamily(ctx, [](const float* y, const float* g, float* dx, int64_t len, int64_t stride) {
    double sum = 0;
    for (int64_t j = 0; j < len; ++j) sum += g[j * stride];
    for (int64_t j = 0; j < len; ++j) dx[j * stride] = g[j * stride] - std::exp(y[j * stride]) * static_cast<float>(sum);
  });
}

}  // namespace nnc::train

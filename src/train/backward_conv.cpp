// Backward of 2-D Conv (groups incl. depthwise, strides, dilations, pads, auto_pad) through
// im2col: per sample and group, dW += G [Cout/g, HW] x col^T and dcol = W^T x G scattered
// back into dX (col2im); dB sums G over batch and space.
#include <Eigen/Core>

#include "nncompress/train/backward.h"

namespace nnc::train {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Geometry {
  int64_t n, c, h, w;        // input
  int64_t m, kh, kw;         // filters, kernel
  int64_t oh, ow;            // output
  int64_t sh, sw, dh, dw, ph, pw, group;
};

Expected<Geometry> geometryOf(const BackwardContext& ctx) {
  const Tensor& x = *ctx.inputs[0];
  const Tensor& w = *ctx.inputs[1];
  const Tensor& y = *ctx.outputs[0];
  if (x.shape.size() != 4 || w.shape.size() != 4) return ctx.fail("only 2-D convolutions have a backward yet");
  Geometry g{x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0], w.shape[2], w.shape[3], y.shape[2], y.shape[3],
             1, 1, 1, 1, 0, 0, ctx.node.attrInt("group", 1)};
  auto pick = [&](const char* name, size_t i, int64_t fallback) {
    const Attribute* a = ctx.node.attr(name);
    return a != nullptr && a->ints.size() > i ? a->ints[i] : fallback;
  };
  g.sh = pick("strides", 0, 1), g.sw = pick("strides", 1, 1);
  g.dh = pick("dilations", 0, 1), g.dw = pick("dilations", 1, 1);
  g.ph = pick("pads", 0, 0), g.pw = pick("pads", 1, 0);
  const Attribute* auto_pad = ctx.node.attr("auto_pad");
  if (auto_pad != nullptr && (auto_pad->s == "SAME_UPPER" || auto_pad->s == "SAME_LOWER")) {
    auto begin = [&](int64_t in, int64_t out, int64_t k, int64_t s, int64_t d) {
      const int64_t total = std::max<int64_t>((out - 1) * s + (k - 1) * d + 1 - in, 0);
      return auto_pad->s == "SAME_UPPER" ? total / 2 : total - total / 2;
    };
    g.ph = begin(g.h, g.oh, g.kh, g.sh, g.dh);
    g.pw = begin(g.w, g.ow, g.kw, g.sw, g.dw);
  } else if (auto_pad != nullptr && auto_pad->s == "VALID") {
    g.ph = g.pw = 0;
  }
  if (g.group < 1 || g.c % g.group != 0 || g.m % g.group != 0 || w.shape[1] != g.c / g.group)
    return ctx.fail("channel counts do not match the group count");
  return g;
}

}  // namespace

Status convBackward(BackwardContext& ctx) {
  auto geometry = geometryOf(ctx);
  if (!geometry) return geometry.status();
  const Geometry g = *geometry;
  const int64_t cg = g.c / g.group, mg = g.m / g.group;
  const int64_t rows = cg * g.kh * g.kw, cols = g.oh * g.ow;
  const float* x = ctx.in(0);
  const float* w = ctx.in(1);
  const std::vector<float>& gy = ctx.output_grads[0]->data;
  Grad dx = Grad::zeros(ctx.inputs[0]->shape), dw = Grad::zeros(ctx.inputs[1]->shape);
  RowMatrix col(rows, cols), dcol(rows, cols);
  // Input element read by column entry (r, o), or -1 in the padding.
  auto source = [&](int64_t ci, int64_t r, int64_t o) -> int64_t {
    const int64_t kx = r % g.kw, ky = (r / g.kw) % g.kh;
    const int64_t iy = (o / g.ow) * g.sh - g.ph + ky * g.dh, ix = (o % g.ow) * g.sw - g.pw + kx * g.dw;
    if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) return -1;
    return (ci * g.h + iy) * g.w + ix;
  };
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const int64_t channel0 = grp * cg;
      const float* xs = x + (n * g.c) * g.h * g.w;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < cols; ++o) {
          const int64_t s = source(channel0 + r / (g.kh * g.kw), r, o);
          col(r, o) = s < 0 ? 0.0f : xs[s];
        }
      Eigen::Map<const RowMatrix> gm(gy.data() + (n * g.m + grp * mg) * cols, mg, cols);
      Eigen::Map<const RowMatrix> wm(w + grp * mg * rows, mg, rows);
      if (ctx.want(1)) Eigen::Map<RowMatrix>(dw.data.data() + grp * mg * rows, mg, rows).noalias() += gm * col.transpose();
      if (ctx.want(0)) {
        dcol.noalias() = wm.transpose() * gm;
        float* dxs = dx.data.data() + (n * g.c) * g.h * g.w;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t o = 0; o < cols; ++o) {
            const int64_t s = source(channel0 + r / (g.kh * g.kw), r, o);
            if (s >= 0) dxs[s] += dcol(r, o);
          }
      }
    }
  if (ctx.want(0)) ctx.setGrad(0, std::move(dx));
  if (ctx.want(1)) ctx.setGrad(1, std::move(dw));
  if (ctx.want(2) && ctx.inputs.size() > 2 && ctx.inputs[2] != nullptr) {
    Grad db = Grad::zeros(ctx.inputs[2]->shape);
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t m = 0; m < g.m; ++m)
        for (int64_t o = 0; o < cols; ++o) db.data[static_cast<size_t>(m)] += gy[static_cast<size_t>((n * g.m + m) * cols + o)];
    ctx.setGrad(2, std::move(db));
  }
  return Status::ok();
}

}  // namespace nnc::train

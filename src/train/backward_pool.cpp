// Backward of 2-D pooling: MaxPool routes each output gradient to the first maximum of its
// window (recomputed from the kept input), AveragePool spreads it over the window (divided as
// the forward divides, count_include_pad or not), GlobalAveragePool over the whole plane.
#include <limits>

#include "nncompress/train/backward.h"

namespace nnc::train {

namespace {

struct Window {
  int64_t n, c, h, w, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw, ph_end, pw_end;
};

Expected<Window> windowOf(const BackwardContext& ctx) {
  const Tensor& x = *ctx.inputs[0];
  const Tensor& y = *ctx.outputs[0];
  const Attribute* kernel = ctx.node.attr("kernel_shape");
  if (x.shape.size() != 4 || kernel == nullptr || kernel->ints.size() != 2)
    return ctx.fail("only 2-D pooling has a backward yet");
  auto pick = [&](const char* name, size_t i, int64_t fallback) {
    const Attribute* a = ctx.node.attr(name);
    return a != nullptr && a->ints.size() > i ? a->ints[i] : fallback;
  };
  Window win{x.shape[0], x.shape[1], x.shape[2], x.shape[3], y.shape[2], y.shape[3], kernel->ints[0], kernel->ints[1],
             pick("strides", 0, 1), pick("strides", 1, 1), pick("dilations", 0, 1), pick("dilations", 1, 1),
             pick("pads", 0, 0), pick("pads", 1, 0), pick("pads", 2, 0), pick("pads", 3, 0)};
  const Attribute* auto_pad = ctx.node.attr("auto_pad");
  if (auto_pad != nullptr && (auto_pad->s == "SAME_UPPER" || auto_pad->s == "SAME_LOWER")) {
    auto split = [&](int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t& begin, int64_t& end) {
      const int64_t total = std::max<int64_t>((out - 1) * s + (k - 1) * d + 1 - in, 0);
      begin = auto_pad->s == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    };
    split(win.h, win.oh, win.kh, win.sh, win.dh, win.ph, win.ph_end);
    split(win.w, win.ow, win.kw, win.sw, win.dw, win.pw, win.pw_end);
  } else if (auto_pad != nullptr && auto_pad->s == "VALID") {
    win.ph = win.pw = win.ph_end = win.pw_end = 0;
  }
  return win;
}

}  // namespace

Status maxPoolBackward(BackwardContext& ctx) {
  auto window = windowOf(ctx);
  if (!window) return window.status();
  const Window& p = *window;
  const float* x = ctx.in(0);
  const std::vector<float>& g = ctx.output_grads[0]->data;
  Grad dx = Grad::zeros(ctx.inputs[0]->shape);
  for (int64_t plane = 0; plane < p.n * p.c; ++plane)
    for (int64_t oy = 0; oy < p.oh; ++oy)
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        int64_t best = -1;
        float best_value = -std::numeric_limits<float>::infinity();
        for (int64_t ky = 0; ky < p.kh; ++ky)
          for (int64_t kx = 0; kx < p.kw; ++kx) {
            const int64_t iy = oy * p.sh - p.ph + ky * p.dh, ix = ox * p.sw - p.pw + kx * p.dw;
            if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
            const int64_t at = (plane * p.h + iy) * p.w + ix;
            if (best < 0 || x[at] > best_value) best = at, best_value = x[at];
          }
        if (best >= 0) dx.data[static_cast<size_t>(best)] += g[static_cast<size_t>((plane * p.oh + oy) * p.ow + ox)];
      }
  ctx.setGrad(0, std::move(dx));
  return Status::ok();
}

Status averagePoolBackward(BackwardContext& ctx) {
  auto window = windowOf(ctx);
  if (!window) return window.status();
  const Window& p = *window;
  const bool include_pad = ctx.node.attrInt("count_include_pad", 0) != 0;
  const std::vector<float>& g = ctx.output_grads[0]->data;
  Grad dx = Grad::zeros(ctx.inputs[0]->shape);
  for (int64_t plane = 0; plane < p.n * p.c; ++plane)
    for (int64_t oy = 0; oy < p.oh; ++oy)
      for (int64_t ox = 0; ox < p.ow; ++ox) {
        // The forward's divisor: window positions inside the input, or inside input + pads.
        int64_t count = 0;
        for (int64_t ky = 0; ky < p.kh; ++ky)
          for (int64_t kx = 0; kx < p.kw; ++kx) {
            const int64_t iy = oy * p.sh - p.ph + ky * p.dh, ix = ox * p.sw - p.pw + kx * p.dw;
            const bool inside = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
            const bool in_pads = iy >= -p.ph && iy < p.h + p.ph_end && ix >= -p.pw && ix < p.w + p.pw_end;
            count += include_pad ? in_pads : inside;
          }
        if (count == 0) continue;
        const float share = g[static_cast<size_t>((plane * p.oh + oy) * p.ow + ox)] / static_cast<float>(count);
        for (int64_t ky = 0; ky < p.kh; ++ky)
          for (int64_t kx = 0; kx < p.kw; ++kx) {
            const int64_t iy = oy * p.sh - p.ph + ky * p.dh, ix = ox * p.sw - p.pw + kx * p.dw;
            if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
            dx.data[static_cast<size_t>((plane * p.h + iy) * p.w + ix)] += share;
          }
      }
  ctx.setGrad(0, std::move(dx));
  return Status::ok();
}

Status globalAveragePoolBackward(BackwardContext& ctx) {
  const std::vector<int64_t>& shape = ctx.inputs[0]->shape;
  if (shape.size() < 3) return ctx.fail("input must have spatial dimensions");
  int64_t spatial = 1;
  for (size_t i = 2; i < shape.size(); ++i) spatial *= shape[i];
  const std::vector<float>& g = ctx.output_grads[0]->data;
  Grad dx = Grad::zeros(shape);
  for (size_t plane = 0; plane < g.size(); ++plane)
    for (int64_t i = 0; i < spatial; ++i) dx.data[plane * static_cast<size_t>(spatial) + static_cast<size_t>(i)] = g[plane] / static_cast<float>(spatial);
  ctx.setGrad(0, std::move(dx));
  return Status::ok();
}

}  // namespace nnc::train

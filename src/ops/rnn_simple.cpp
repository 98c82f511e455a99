// RNN (opsets 1-21): H_t = f(X_t*W^T + H_{t-1}*R^T + Wb + Rb) with forward/reverse/bidirectional,
// sequence_lens, initial_h, activations with alpha/beta (default Tanh), clip, layout 0/1
// (opset 14), outputs Y and Y_h.
#include "rnn_common.h"
#include "parallel.h"

namespace nnc::ops::rnn {
namespace {

template <typename T>
Status rnnTyped(KernelContext& ctx, const Config& c) {
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const Tensor& r = *ctx.input(2);
  const Tensor* bias = ctx.input(3);
  const Tensor* init_h = ctx.input(5);
  const int64_t H = c.hidden;

  T *y = nullptr, *yh = nullptr;
  if (ctx.outputWanted(0)) {
    ctx.setOutput(0, allocate<T>(x.dtype, c.yShape(), &y));
    if (!c.all_full) std::fill_n(y, product(c.yShape()), T(0));
  }
  if (ctx.outputWanted(1)) ctx.setOutput(1, allocate<T>(x.dtype, c.stateShape(), &yh));

  std::vector<T> xw(static_cast<size_t>(c.seq * c.batch * H));
  RowMatrix<T> pre(c.batch, H);
  for (int64_t d = 0; d < c.directions; ++d) {
    std::vector<T> bsum;
    if (bias != nullptr) {
      const T* b = bias->dataAs<T>() + d * 2 * H;
      bsum.resize(static_cast<size_t>(H));
      for (int64_t j = 0; j < H; ++j) bsum[j] = b[j] + b[H + j];
    }
    projectInput<T>(c, x, w, d, 1, bias ? bsum.data() : nullptr, xw.data());
    const SerialEigenScope serial_steps(double(c.batch) * double(1 * c.hidden) * double(c.hidden) < double(1 << 20));  // see rnn_lstm.cpp
    ConstMatrixMap<T> R(r.dataAs<T>() + d * H * H, H, H);
    RowMatrix<T> h = initialState<T>(c, init_h, d);
    const Activation& f = c.activations[d];
    for (int64_t s = 0; s < c.max_len; ++s) {
      pre.noalias() = h * R.transpose();
      NNC_PARALLEL_FOR_IF(c.batch * H > kMinParallelWork,
        for (int64_t b = 0; b < c.batch; ++b) {
          if (s >= c.lengths[b]) continue;
          const int64_t t = c.timeAt(s, d, b);
          T* pr = pre.data() + b * H;
          const T* xr = xw.data() + c.row(t, b) * H;
          for (int64_t j = 0; j < H; ++j) pr[j] += xr[j];
          clipValues(c, pr, H);
          f.apply(pr, H);
          std::copy_n(pr, H, h.data() + b * H);
          if (y != nullptr) std::copy_n(pr, H, y + c.yOffset(t, d, b));
        });
    }
    if (yh != nullptr) storeState<T>(c, h, d, yh);
  }
  return Status::ok();
}

Status simpleRnn(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(Config c, readConfig(ctx, 1, {"Tanh"}));
  Status status = Status::ok();
  if (!dispatchFloat(ctx.input(0)->dtype, [&](auto tag) { status = rnnTyped<decltype(tag)>(ctx, c); }))
    return ctx.unsupportedHere("RNN supports float and double, got " + dtypeName(ctx.input(0)->dtype));
  return status;
}

}  // namespace

void registerSimpleRnn(OpRegistry& registry) { registry.add({"", "RNN", 1, 1000, simpleRnn, false}); }

}  // namespace nnc::ops::rnn

// GRU (opsets 1-21): forward/reverse/bidirectional, sequence_lens, initial_h, activations with
// alpha/beta, clip, linear_before_reset 0/1 (opset 3+; absent = 0), layout 0/1 (opset 14),
// outputs Y and Y_h. Gates are ordered z, r, h as in the spec.
#include "rnn_common.h"

namespace nnc::ops::rnn {
namespace {

template <typename T>
Status gruTyped(KernelContext& ctx, const Config& c) {
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const Tensor& r = *ctx.input(2);
  const Tensor* bias = ctx.input(3);
  const Tensor* init_h = ctx.input(5);
  const int64_t H = c.hidden, G = 3 * H;
  const bool linear_before_reset = ctx.attrInt("linear_before_reset", 0) != 0;

  T *y = nullptr, *yh = nullptr;
  if (ctx.outputWanted(0)) {
    ctx.setOutput(0, allocate<T>(x.dtype, c.yShape(), &y));
    if (!c.all_full) std::fill_n(y, product(c.yShape()), T(0));
  }
  if (ctx.outputWanted(1)) ctx.setOutput(1, allocate<T>(x.dtype, c.stateShape(), &yh));

  std::vector<T> xw(static_cast<size_t>(c.seq * c.batch * G));
  RowMatrix<T> gates(c.batch, G);
  RowMatrix<T> reset_h(c.batch, H);  // r (.) H_{t-1}, when linear_before_reset = 0
  RowMatrix<T> gates_h(c.batch, H);
  const bool parallel = c.batch * H >= 16384;
  for (int64_t d = 0; d < c.directions; ++d) {
    std::vector<T> bsum;
    const T* rbh = nullptr;  // Rb of the h gate, applied inside the reset product when linear_before_reset
    if (bias != nullptr) {
      const T* b = bias->dataAs<T>() + d * 2 * G;
      bsum.resize(static_cast<size_t>(G));
      for (int64_t j = 0; j < G; ++j) bsum[j] = b[j] + (linear_before_reset && j >= 2 * H ? T(0) : b[G + j]);
      rbh = b + G + 2 * H;
    }
    projectInput<T>(c, x, w, d, 3, bias ? bsum.data() : nullptr, xw.data());
    const SerialEigenScope serial_steps(double(c.batch) * double(3 * c.hidden) * double(c.hidden) < double(1 << 20));  // see rnn_lstm.cpp
    const T* rd = r.dataAs<T>() + d * G * H;
    ConstMatrixMap<T> R(rd, G, H);
    ConstMatrixMap<T> R_zr(rd, 2 * H, H);
    ConstMatrixMap<T> R_h(rd + 2 * H * H, H, H);
    RowMatrix<T> h = initialState<T>(c, init_h, d);
    const Activation& f = c.activations[d * 2];
    const Activation& g = c.activations[d * 2 + 1];

    // z and r for batch entry b at step s (in the first 2H columns of its gates row).
    auto updateAndReset = [&](int64_t b, int64_t t) {
      T* gr = gates.data() + b * G;
      const T* xr = xw.data() + c.row(t, b) * G;
      for (int64_t j = 0; j < 2 * H; ++j) gr[j] += xr[j];
      clipValues(c, gr, 2 * H);
      f.apply(gr, 2 * H);
    };
    // The new state from the candidate in cand[0..H).
    auto finish = [&](int64_t b, int64_t t, T* cand) {
      const T* z = gates.data() + b * G;
      clipValues(c, cand, H);
      g.apply(cand, H);
      T* hp = h.data() + b * H;
      for (int64_t j = 0; j < H; ++j) hp[j] = (T(1) - z[j]) * cand[j] + z[j] * hp[j];
      if (y != nullptr) std::copy_n(hp, H, y + c.yOffset(t, d, b));
    };

    for (int64_t s = 0; s < c.max_len; ++s) {
      if (linear_before_reset) {
        gates.noalias() = h * R.transpose();
        NNC_PARALLEL_FOR_IF(parallel,
          for (int64_t b = 0; b < c.batch; ++b) {
            if (s >= c.lengths[b]) continue;
            const int64_t t = c.timeAt(s, d, b);
            updateAndReset(b, t);
            T* gr = gates.data() + b * G;
            T* cand = gr + 2 * H;
            const T* xr = xw.data() + c.row(t, b) * G + 2 * H;
            for (int64_t j = 0; j < H; ++j) cand[j] = xr[j] + gr[H + j] * (cand[j] + (rbh ? rbh[j] : T(0)));
            finish(b, t, cand);
          });
      } else {
        gates.leftCols(2 * H).noalias() = h * R_zr.transpose();
        NNC_PARALLEL_FOR_IF(parallel,
          for (int64_t b = 0; b < c.batch; ++b) {
            T* rh = reset_h.data() + b * H;
            if (s >= c.lengths[b]) {
              std::fill_n(rh, H, T(0));
              continue;
            }
            updateAndReset(b, c.timeAt(s, d, b));
            const T* rg = gates.data() + b * G + H;
            const T* hp = h.data() + b * H;
            for (int64_t j = 0; j < H; ++j) rh[j] = rg[j] * hp[j];
          });
        gates_h.noalias() = reset_h * R_h.transpose();
        NNC_PARALLEL_FOR_IF(parallel,
          for (int64_t b = 0; b < c.batch; ++b) {
            if (s >= c.lengths[b]) continue;
            const int64_t t = c.timeAt(s, d, b);
            T* cand = gates_h.data() + b * H;
            const T* xr = xw.data() + c.row(t, b) * G + 2 * H;
            for (int64_t j = 0; j < H; ++j) cand[j] += xr[j];
            finish(b, t, cand);
          });
      }
    }
    if (yh != nullptr) storeState<T>(c, h, d, yh);
  }
  return Status::ok();
}

Status gru(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(Config c, readConfig(ctx, 3, {"Sigmoid", "Tanh"}));
  Status status = Status::ok();
  if (!dispatchFloat(ctx.input(0)->dtype, [&](auto tag) { status = gruTyped<decltype(tag)>(ctx, c); }))
    return ctx.unsupportedHere("GRU supports float and double, got " + dtypeName(ctx.input(0)->dtype));
  return status;
}

}  // namespace

void registerGru(OpRegistry& registry) { registry.add({"", "GRU", 1, 1000, gru, false}); }

}  // namespace nnc::ops::rnn

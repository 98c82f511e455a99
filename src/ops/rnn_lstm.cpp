// LSTM (opsets 1-21): forward/reverse/bidirectional, sequence_lens, initial_h/initial_c,
// peepholes P, activations with alpha/beta, clip, input_forget, layout 0/1 (opset 14), outputs
// Y, Y_h, Y_c. Gates are ordered i, o, f, c as in the spec. X*W^T for all steps is one GEMM;
// each step adds H*R^T (one GEMM over the batch).
#include "rnn_common.h"
#include "parallel.h"

namespace nnc::ops::rnn {
namespace {

template <typename T>
Status lstmTyped(KernelContext& ctx, const Config& c) {
  const Tensor& x = *ctx.input(0);
  const Tensor& w = *ctx.input(1);
  const Tensor& r = *ctx.input(2);
  const Tensor* bias = ctx.input(3);
  const Tensor* init_h = ctx.input(5);
  const Tensor* init_c = ctx.input(6);
  const Tensor* peep = ctx.input(7);
  const int64_t H = c.hidden, G = 4 * H;
  NNC_RETURN_IF_ERROR(checkShape(ctx, init_c, c.stateShape(), "initial_c"));
  NNC_RETURN_IF_ERROR(checkShape(ctx, peep, {c.directions, 3 * H}, "P"));
  for (const Tensor* t : {init_c, peep})
    if (t != nullptr && t->dtype != x.dtype) return ctx.fail("initial_c and P must have X's type");
  const bool input_forget = ctx.attrInt("input_forget", 0) != 0;

  T *y = nullptr, *yh = nullptr, *yc = nullptr;
  if (ctx.outputWanted(0)) {
    ctx.setOutput(0, allocate<T>(x.dtype, c.yShape(), &y));
    if (!c.all_full) std::fill_n(y, product(c.yShape()), T(0));  // steps past a sequence's length are 0
  }
  if (ctx.outputWanted(1)) ctx.setOutput(1, allocate<T>(x.dtype, c.stateShape(), &yh));
  if (ctx.outputWanted(2)) ctx.setOutput(2, allocate<T>(x.dtype, c.stateShape(), &yc));

  const bool plain_gates = peep == nullptr && !input_forget;
  std::vector<T> xw(static_cast<size_t>(c.seq * c.batch * G));
  RowMatrix<T> gates(c.batch, G);
  for (int64_t d = 0; d < c.directions; ++d) {
    std::vector<T> bsum;
    if (bias != nullptr) {
      const T* b = bias->dataAs<T>() + d * 2 * G;
      bsum.resize(static_cast<size_t>(G));
      for (int64_t j = 0; j < G; ++j) bsum[j] = b[j] + b[G + j];  // Wb + Rb
    }
    projectInput<T>(c, x, w, d, 4, bias ? bsum.data() : nullptr, xw.data());
    // The per-step product h * R^T is small (batch x hidden x 4 hidden): on this thread, not in
    // Eigen's threaded GEMM, whose per-product thread start and barriers cost more than it saves.
    const SerialEigenScope serial_steps(double(c.batch) * double(G) * double(H) < double(1 << 20));
    ConstMatrixMap<T> R(r.dataAs<T>() + d * G * H, G, H);
    RowMatrix<T> h = initialState<T>(c, init_h, d);
    RowMatrix<T> cell = initialState<T>(c, init_c, d);
    const T* p = peep ? peep->dataAs<T>() + d * 3 * H : nullptr;
    const Activation& f = c.activations[d * 3];
    const Activation& g = c.activations[d * 3 + 1];
    const Activation& hact = c.activations[d * 3 + 2];

    for (int64_t s = 0; s < c.max_len; ++s) {
      gates.noalias() = h * R.transpose();
      NNC_PARALLEL_FOR_IF(c.batch * H > kMinParallelWork,
        for (int64_t b = 0; b < c.batch; ++b) {
          if (s >= c.lengths[b]) continue;  // this sequence is done: its state stays
          const int64_t t = c.timeAt(s, d, b);
          T* gr = gates.data() + b * G;
          const T* xr = xw.data() + c.row(t, b) * G;
          for (int64_t j = 0; j < G; ++j) gr[j] += xr[j];
          T *gi = gr, *go = gr + H, *gf = gr + 2 * H, *gc = gr + 3 * H;
          T* cp = cell.data() + b * H;
          T* hp = h.data() + b * H;
          if (plain_gates) {
            // i, o, f are contiguous and none depends on the cell: one activation call for all three.
            clipValues(c, gi, 3 * H);
            f.apply(gi, 3 * H);
          } else {
            if (p != nullptr)
              for (int64_t j = 0; j < H; ++j) {
                gi[j] += p[j] * cp[j];
                gf[j] += p[2 * H + j] * cp[j];
              }
            clipValues(c, gi, H);
            f.apply(gi, H);
            if (input_forget) {
              for (int64_t j = 0; j < H; ++j) gf[j] = T(1) - gi[j];  // coupled gates, as ONNX Runtime
            } else {
              clipValues(c, gf, H);
              f.apply(gf, H);
            }
          }
          clipValues(c, gc, H);
          g.apply(gc, H);
          for (int64_t j = 0; j < H; ++j) cp[j] = gf[j] * cp[j] + gi[j] * gc[j];
          if (!plain_gates) {
            if (p != nullptr)
              for (int64_t j = 0; j < H; ++j) go[j] += p[H + j] * cp[j];  // output peephole sees the new cell
            clipValues(c, go, H);
            f.apply(go, H);
          }
          std::copy_n(cp, H, gc);  // gc is free now: h(C_t) in place
          hact.apply(gc, H);
          for (int64_t j = 0; j < H; ++j) hp[j] = go[j] * gc[j];
          if (y != nullptr) std::copy_n(hp, H, y + c.yOffset(t, d, b));
        });
    }
    if (yh != nullptr) storeState<T>(c, h, d, yh);
    if (yc != nullptr) storeState<T>(c, cell, d, yc);
  }
  return Status::ok();
}

Status lstm(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(Config c, readConfig(ctx, 4, {"Sigmoid", "Tanh", "Tanh"}));
  Status status = Status::ok();
  if (!dispatchFloat(ctx.input(0)->dtype, [&](auto tag) { status = lstmTyped<decltype(tag)>(ctx, c); }))
    return ctx.unsupportedHere("LSTM supports float and double, got " + dtypeName(ctx.input(0)->dtype));
  return status;
}

}  // namespace

void registerLstm(OpRegistry& registry) { registry.add({"", "LSTM", 1, 1000, lstm, false}); }

}  // namespace nnc::ops::rnn

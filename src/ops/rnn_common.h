// Shared pieces of the recurrent kernels (LSTM, GRU, RNN; opsets 1-21): the attribute/input
// checks common to all three, the activation functions with their alpha/beta, the layout
// (0: [seq, batch, ...], 1 since opset 14: [batch, seq, ...]) and sequence_lens handling, and
// the input projection X*W^T + biases computed for all time steps with one GEMM.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "op_util.h"
#include "parallel.h"

namespace nnc::ops::rnn {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;

// x[i] = 1 / (1 + exp(-x[i])), vectorized. Exact to a few ulp (not Eigen's approximate logistic,
// which saturates to 1 early: the backend's test_gru_seq_length checks 1 - z ~ 1e-7). With
// e = exp(-|x|) no exp overflows: x >= 0 gives 1 / (1 + e), x < 0 gives e / (1 + e). Blocks of
// 64 on the stack: no allocation per call (the kernels call this once per gate and step).
template <typename T>
void sigmoid(T* x, int64_t n) {
  using Block = Eigen::Array<T, Eigen::Dynamic, 1, 0, 64, 1>;
  for (int64_t i0 = 0; i0 < n; i0 += 64) {
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> v(x + i0, std::min<int64_t>(64, n - i0));
    const Block e = (-v.abs()).exp();
    const Block r = (T(1) + e).inverse();
    v = (v >= T(0)).select(r, e * r);
  }
}

// One activation function of the spec's list, with its alpha/beta.
struct Activation {
  enum Kind { kRelu, kTanh, kSigmoid, kAffine, kLeakyRelu, kThresholdedRelu, kScaledTanh, kHardSigmoid, kElu, kSoftsign, kSoftplus };
  Kind kind = kSigmoid;
  float alpha = 0.0f;
  float beta = 0.0f;

  // x[i] = f(x[i]) for n contiguous values; the switch is outside the loop.
  template <typename T>
  void apply(T* x, int64_t n) const {
    const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
    switch (kind) {
      case kRelu: for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], T(0)); break;
      case kTanh:  // Eigen's vectorized tanh
        Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(x, n) = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(x, n).tanh(); break;
      case kSigmoid:
        sigmoid(x, n);
        break;
      case kAffine: for (int64_t i = 0; i < n; ++i) x[i] = a * x[i] + b; break;
      case kLeakyRelu: for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0 ? x[i] : a * x[i]; break;
      case kThresholdedRelu: for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= a ? x[i] : T(0); break;  // spec: x >= alpha
      case kScaledTanh: for (int64_t i = 0; i < n; ++i) x[i] = a * std::tanh(b * x[i]); break;
      case kHardSigmoid: for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(a * x[i] + b, T(0)), T(1)); break;
      case kElu: for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= 0 ? x[i] : a * (std::exp(x[i]) - T(1)); break;
      case kSoftsign: for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (T(1) + std::abs(x[i])); break;
      case kSoftplus:
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0 ? x[i] + std::log1p(std::exp(-x[i])) : std::log1p(std::exp(x[i]));
        break;
    }
  }
};

// What every recurrent op reads from its node: sizes, direction, activations, clip.
struct Config {
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, directions = 1;
  bool reverse_only = false;  // direction == "reverse"
  bool layout_batch_first = false;
  bool has_clip = false;
  float clip = 0.0f;
  std::vector<Activation> activations;  // per_direction * directions
  std::vector<int64_t> lengths;         // per batch entry, always filled (seq when absent)
  bool all_full = true;                 // every length == seq
  int64_t max_len = 0;                  // the longest sequence: steps to run

  bool reverse(int64_t d) const { return reverse_only || d == 1; }
  // Row of X (flattened to [seq*batch, input] in its layout) for time t, batch b.
  int64_t row(int64_t t, int64_t b) const { return layout_batch_first ? b * seq + t : t * batch + b; }
  // Offset of Y[t, d, b, :] (layout 0) / Y[b, t, d, :] (layout 1).
  int64_t yOffset(int64_t t, int64_t d, int64_t b) const {
    return (layout_batch_first ? (b * seq + t) * directions + d : (t * directions + d) * batch + b) * hidden;
  }
  // Offset of the state [d, b, :] (layout 0) / [b, d, :] (layout 1).
  int64_t stateOffset(int64_t d, int64_t b) const {
    return (layout_batch_first ? b * directions + d : d * batch + b) * hidden;
  }
  std::vector<int64_t> yShape() const {
    return layout_batch_first ? std::vector<int64_t>{batch, seq, directions, hidden} : std::vector<int64_t>{seq, directions, batch, hidden};
  }
  std::vector<int64_t> stateShape() const {
    return layout_batch_first ? std::vector<int64_t>{batch, directions, hidden} : std::vector<int64_t>{directions, batch, hidden};
  }
  // The time index batch entry b reads at step s of direction d (reverse runs within its own length).
  int64_t timeAt(int64_t s, int64_t d, int64_t b) const { return reverse(d) ? lengths[b] - 1 - s : s; }
};

// Keeps Eigen's products on the calling thread while alive (when `active`): nthreads-var is
// per thread, so this touches no other thread's setting.
class SerialEigenScope {
 public:
  explicit SerialEigenScope(bool active) : saved_(active ? omp_get_max_threads() : 0) {
    if (active) omp_set_num_threads(1);
  }
  ~SerialEigenScope() {
    if (saved_ > 0) omp_set_num_threads(saved_);
  }
  SerialEigenScope(const SerialEigenScope&) = delete;
  SerialEigenScope& operator=(const SerialEigenScope&) = delete;

 private:
  int saved_;
};

// Reads and checks X, W, R, sequence_lens, initial state shapes and the attributes.
// `gates`: 4 (LSTM), 3 (GRU), 1 (RNN); `default_acts`: the spec's activations of one direction.
Expected<Config> readConfig(const KernelContext& ctx, int64_t gates, const std::vector<std::string>& default_acts);

// Checks an optional tensor's shape; returns false (and sets status) when it does not match.
Status checkShape(const KernelContext& ctx, const Tensor* t, const std::vector<int64_t>& shape, const char* what);

// The input projection for direction d: out[row, :] = X[row, :] * W[d]^T + bias, rows of X in its
// layout; `bias` (length gates*hidden) may be null.
template <typename T>
void projectInput(const Config& c, const Tensor& x, const Tensor& w, int64_t d, int64_t gates, const T* bias, T* out) {
  const int64_t rows = c.seq * c.batch, cols = gates * c.hidden;
  ConstMatrixMap<T> X(x.dataAs<T>(), rows, c.input);
  ConstMatrixMap<T> W(w.dataAs<T>() + d * cols * c.input, cols, c.input);
  MatrixMap<T> out_m(out, rows, cols);
  out_m.noalias() = X * W.transpose();
  if (bias != nullptr) {
    NNC_PARALLEL_FOR_IF(rows * cols > kMinParallelWork,
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < cols; ++j) out[r * cols + j] += bias[j];);
  }
}

template <typename T>
inline void clipValues(const Config& c, T* x, int64_t n) {
  if (!c.has_clip) return;
  const T lim = static_cast<T>(c.clip);
  for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], -lim), lim);
}

// Initial state for direction d as a [batch, hidden] matrix (zeros when the input is absent).
template <typename T>
RowMatrix<T> initialState(const Config& c, const Tensor* init, int64_t d) {
  RowMatrix<T> s = RowMatrix<T>::Zero(c.batch, c.hidden);
  if (init == nullptr) return s;
  const T* p = init->dataAs<T>();
  for (int64_t b = 0; b < c.batch; ++b) std::copy_n(p + c.stateOffset(d, b), c.hidden, s.data() + b * c.hidden);
  return s;
}

// Writes a direction's final state into the [d, b] (or [b, d]) slots of `out`; entries with
// sequence length 0 get zeros, as ONNX Runtime does.
template <typename T>
void storeState(const Config& c, const RowMatrix<T>& s, int64_t d, T* out) {
  for (int64_t b = 0; b < c.batch; ++b) {
    T* dst = out + c.stateOffset(d, b);
    if (c.lengths[b] == 0)
      std::fill_n(dst, c.hidden, T(0));
    else
      std::copy_n(s.data() + b * c.hidden, c.hidden, dst);
  }
}

// Registration helpers of the family (one registerRnnOps in registry.cpp calls them).
void registerLstm(OpRegistry& registry);
void registerGru(OpRegistry& registry);
void registerSimpleRnn(OpRegistry& registry);
void registerControlFlow(OpRegistry& registry);

}  // namespace nnc::ops::rnn

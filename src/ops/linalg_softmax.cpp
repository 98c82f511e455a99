// Softmax, LogSoftmax, Hardmax. Opsets 1-12 coerce the input to 2-D at `axis` (default 1) and
// normalize over everything from axis on; opsets 13+ normalize over the single axis (default -1).
// Both reduce to [outer, n, inner] blocks; inner == 1 (the usual last-axis case) runs vectorized
// Eigen array code per row, inner > 1 keeps running maxima/sums in vectors of length inner.
#include <Eigen/Core>
#include <cmath>

#include "linalg.h"
#include "op_util.h"
#include "parallel.h"

namespace nnc::ops::linalg {
namespace {

enum class Mode { kSoftmax, kLogSoftmax, kHardmax };

template <typename T>
using Vec = Eigen::Array<T, Eigen::Dynamic, 1>;
template <typename T>
using VecMap = Eigen::Map<Vec<T>>;
template <typename T>
using ConstVecMap = Eigen::Map<const Vec<T>>;

// One contiguous row of n > 0 elements.
template <typename T, Mode M>
void row(const T* x, T* y, int64_t n) {
  ConstVecMap<T> xv(x, n);
  VecMap<T> yv(y, n);
  if constexpr (M == Mode::kHardmax) {
    int64_t best = 0;  // first maximum, like ONNX Runtime
    for (int64_t i = 1; i < n; ++i)
      if (x[i] > x[best]) best = i;
    yv.setZero();
    y[best] = T(1);
  } else {
    const T m = xv.maxCoeff();  // subtracting the max keeps exp from overflowing
    if constexpr (M == Mode::kSoftmax) {
      yv = (xv - m).exp();
      yv *= T(1) / yv.sum();
    } else {
      yv = xv - m;
      yv -= std::log(yv.exp().sum());
    }
  }
}

// One [n, inner] block, normalized down its columns (n > 0, inner > 1).
template <typename T, Mode M>
void block(const T* x, T* y, int64_t n, int64_t inner) {
  if constexpr (M == Mode::kHardmax) {
    for (int64_t j = 0; j < inner; ++j) {
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i)
        if (x[i * inner + j] > x[best * inner + j]) best = i;
      for (int64_t i = 0; i < n; ++i) y[i * inner + j] = i == best ? T(1) : T(0);
    }
  } else {
    Vec<T> m = ConstVecMap<T>(x, inner);
    for (int64_t i = 1; i < n; ++i) m = m.max(ConstVecMap<T>(x + i * inner, inner));
    Vec<T> s = Vec<T>::Zero(inner);
    for (int64_t i = 0; i < n; ++i) {
      VecMap<T> yr(y + i * inner, inner);
      if constexpr (M == Mode::kSoftmax) {
        yr = (ConstVecMap<T>(x + i * inner, inner) - m).exp();
        s += yr;
      } else {
        yr = ConstVecMap<T>(x + i * inner, inner) - m;
        s += yr.exp();
      }
    }
    if constexpr (M == Mode::kSoftmax) {
      s = s.inverse();
      for (int64_t i = 0; i < n; ++i) VecMap<T>(y + i * inner, inner) *= s;
    } else {
      s = s.log();
      for (int64_t i = 0; i < n; ++i) VecMap<T>(y + i * inner, inner) -= s;
    }
  }
}

template <Mode M>
Status softmaxOp(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  const bool legacy = ctx.opset() < 13;
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  auto axis = normalizeAxis(ctx.attrInt("axis", legacy ? 1 : -1), std::max<int64_t>(rank, 1));
  if (!axis) return axis.status().withContext(ctx.node().describe());
  const auto& s = x->shape;
  const size_t ax = static_cast<size_t>(*axis);
  const int64_t outer = product(s, 0, ax);
  const int64_t n = legacy ? product(s, ax) : (rank == 0 ? 1 : s[ax]);
  const int64_t inner = legacy ? 1 : product(s, ax + 1);
  Tensor out;
  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    out = allocate<T>(x->dtype, s, &y);
    const T* p = x->dataAs<T>();
    if (outer * n * inner == 0) return;
    const int64_t stride = n * inner;
    NNC_PARALLEL_FOR_IF(outer > 1 && outer * stride > kMinParallelWork,
      for (int64_t o = 0; o < outer; ++o) {
        if (inner == 1) row<T, M>(p + o * stride, y + o * stride, n);
        else block<T, M>(p + o * stride, y + o * stride, n, inner);
      });
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

}  // namespace

void registerSoftmaxOps(OpRegistry& registry) {
  // One def per op: the kernel switches between the 2-D coercion (< 13) and single-axis (13+) forms.
  registry.add({"", "Softmax", 1, 1000, softmaxOp<Mode::kSoftmax>});
  registry.add({"", "LogSoftmax", 1, 1000, softmaxOp<Mode::kLogSoftmax>});
  registry.add({"", "Hardmax", 1, 1000, softmaxOp<Mode::kHardmax>});
}

}  // namespace nnc::ops::linalg

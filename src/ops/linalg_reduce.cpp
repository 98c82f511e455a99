// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
// ReduceLogSumExp, ReduceSumSquare (opsets 1-21). `axes` is an attribute before opset 18
// (ReduceSum: before 13) and an optional input from then on, with noop_with_empty_axes. Negative
// axes (11+) are accepted everywhere. A reduction over an empty set gives the op's identity
// (0, 1, -inf, +inf; NaN for the mean), as the opset-18 spec says.
//
// Dims are first simplified (size-1 dims dropped, neighbours of the same kind merged), then:
// [kept, reduced] reduces contiguous rows (Eigen's vectorized reductions for floats),
// [kept, reduced, kept] accumulates whole rows into a vector, and any other layout is
// transposed to [kept..., reduced...] first.
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <type_traits>

#include "linalg.h"
#include "linalg_transpose.h"
#include "op_util.h"
#include "parallel.h"

namespace nnc::ops::linalg {
namespace {

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// The scalar pieces of a reduction: acc = combine(acc, map(x)) from init(), then finish(acc, n).
template <Kind K, typename T>
struct Op {
  static T init() {
    if constexpr (K == Kind::kMax)
      return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
    else if constexpr (K == Kind::kMin)
      return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
    else if constexpr (K == Kind::kProd) return T(1);
    else return T(0);
  }
  static T map(T x) {
    if constexpr (K == Kind::kL1 && std::is_signed_v<T>) return x < T(0) ? static_cast<T>(-x) : x;
    else if constexpr (K == Kind::kL2 || K == Kind::kSumSquare) return static_cast<T>(x * x);
    else return x;
  }
  static T combine(T a, T b) {
    if constexpr (K == Kind::kMax) return a < b ? b : a;
    else if constexpr (K == Kind::kMin) return b < a ? b : a;
    else if constexpr (K == Kind::kProd) return static_cast<T>(a * b);
    else return static_cast<T>(a + b);
  }
  static T finish(T a, int64_t n) {
    if constexpr (K == Kind::kMean) {
      if constexpr (std::is_integral_v<T>) return n == 0 ? T(0) : static_cast<T>(a / static_cast<T>(n));
      else return a / static_cast<T>(n);  // 0/0 = NaN for an empty set
    } else if constexpr (K == Kind::kL2) {
      return static_cast<T>(std::sqrt(static_cast<double>(a)));
    } else if constexpr (K == Kind::kLogSum) {
      return static_cast<T>(std::log(static_cast<double>(a)));
    } else {
      return a;
    }
  }
};

// log(sum(exp(x))) of one row, shifted by the max so exp cannot overflow.
template <typename T>
T logSumExpRow(const T* x, int64_t n) {
  using A = std::conditional_t<std::is_floating_point_v<T>, T, double>;
  if (n == 0) return static_cast<T>(-std::numeric_limits<double>::infinity());
  A m = static_cast<A>(x[0]);
  for (int64_t i = 1; i < n; ++i) m = std::max(m, static_cast<A>(x[i]));
  if (std::isinf(static_cast<double>(m))) return static_cast<T>(m);
  A s = 0;
  if constexpr (std::is_floating_point_v<T>) s = (Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(x, n) - m).exp().sum();
  else for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<A>(x[i]) - m);
  return static_cast<T>(std::log(s) + m);
}

// One contiguous row of n elements.
template <Kind K, typename T>
T reduceRow(const T* x, int64_t n) {
  using O = Op<K, T>;
  if constexpr (K == Kind::kLogSumExp) {
    return logSumExpRow(x, n);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (n == 0) return O::finish(O::init(), 0);
    Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> v(x, n);
    T a;
    if constexpr (K == Kind::kMax) a = v.maxCoeff();
    else if constexpr (K == Kind::kMin) a = v.minCoeff();
    else if constexpr (K == Kind::kProd) a = v.prod();
    else if constexpr (K == Kind::kL1) a = v.abs().sum();
    else if constexpr (K == Kind::kL2 || K == Kind::kSumSquare) a = v.square().sum();
    else a = v.sum();
    return O::finish(a, n);
  } else {
    T a = O::init();
    for (int64_t i = 0; i < n; ++i) a = O::combine(a, O::map(x[i]));
    return O::finish(a, n);
  }
}

// y[o, j] = reduce over r of x[o, r, j] for an [outer, n, inner] layout, whole rows at a time.
template <Kind K, typename T>
void reduceMiddle(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  using O = Op<K, T>;
  NNC_PARALLEL_FOR_IF(outer > 1 && outer * n * inner > kMinParallelWork,
    for (int64_t o = 0; o < outer; ++o) {
      T* acc = y + o * inner;
      const T* block = x + o * n * inner;
      for (int64_t j = 0; j < inner; ++j) acc[j] = O::init();
      for (int64_t r = 0; r < n; ++r) {
        const T* row = block + r * inner;
        for (int64_t j = 0; j < inner; ++j) acc[j] = O::combine(acc[j], O::map(row[j]));
      }
      for (int64_t j = 0; j < inner; ++j) acc[j] = O::finish(acc[j], n);
    });
}

template <Kind K, typename T>
void reduceTyped(const Tensor& x, const std::vector<bool>& reduced, T* y) {
  const int64_t total = x.elementCount();
  const T* p = x.dataAs<T>();
  // Simplified layout: (size, reduced) runs with size-1 dims dropped and same-kind neighbours merged.
  std::vector<std::pair<int64_t, bool>> runs;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (x.shape[d] == 1) continue;
    if (!runs.empty() && runs.back().second == reduced[d]) runs.back().first *= x.shape[d];
    else runs.emplace_back(x.shape[d], reduced[d]);
  }
  if (total == 0) {  // every output (if any) reduces an empty set
    int64_t out_count = 1;
    for (size_t d = 0; d < x.shape.size(); ++d)
      if (!reduced[d]) out_count *= x.shape[d];
    const T v = reduceRow<K, T>(p, 0);
    for (int64_t i = 0; i < out_count; ++i) y[i] = v;
    return;
  }
  auto rows = [&](const T* data, int64_t count, int64_t n) {
    NNC_PARALLEL_FOR_IF(count > 1 && count * n > kMinParallelWork,
      for (int64_t i = 0; i < count; ++i) y[i] = reduceRow<K, T>(data + i * n, n););
  };
  const size_t nr = runs.size();
  if (nr == 0) {
    y[0] = reduceRow<K, T>(p, 1);
  } else if (nr == 1) {  // all reduced, or nothing of size > 1 reduced (an elementwise map)
    if (runs[0].second) rows(p, 1, runs[0].first);
    else rows(p, runs[0].first, 1);
  } else if (nr == 2 && runs[1].second) {  // [kept, reduced]
    rows(p, runs[0].first, runs[1].first);
  } else if (K != Kind::kLogSumExp && (nr == 2 || (nr == 3 && !runs[0].second))) {  // [kept?, reduced, kept]
    reduceMiddle<K, T>(p, y, nr == 3 ? runs[0].first : 1, runs[nr - 2].first, runs[nr - 1].first);
  } else {
    // Any other layout: move the reduced axes last, then reduce contiguous rows.
    std::vector<int64_t> shape;
    std::vector<size_t> perm;
    int64_t n = 1;
    for (const auto& [size, red] : runs) shape.push_back(size);
    for (size_t i = 0; i < nr; ++i)
      if (!runs[i].second) perm.push_back(i);
    for (size_t i = 0; i < nr; ++i)
      if (runs[i].second) {
        perm.push_back(i);
        n *= runs[i].first;
      }
    std::vector<T> tmp(static_cast<size_t>(total));
    transposeCopy<T>(p, shape, perm, tmp.data());
    rows(tmp.data(), total / n, n);
  }
}

// Whether this op/opset takes axes from input 1 (else from the `axes` attribute).
bool axesFromInput(Kind kind, int64_t opset) { return opset >= 18 || (kind == Kind::kSum && opset >= 13); }

template <Kind K>
Status reduceOp(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  std::vector<int64_t> axes;
  bool noop = false;
  if (axesFromInput(K, ctx.opset())) {
    if (const Tensor* a = ctx.input(1)) {
      auto v = readInts(*a, "axes");
      if (!v) return v.status().withContext(ctx.node().describe());
      axes = std::move(v).value();
    }
    noop = ctx.attrInt("noop_with_empty_axes", 0) != 0;
  } else {
    axes = ctx.attrInts("axes");
  }
  if (axes.empty() && noop) {  // the spec: output = input
    ctx.setOutput(0, *x);
    return Status::ok();
  }
  const bool keepdims = ctx.attrInt("keepdims", 1) != 0;
  std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty());
  for (int64_t a : axes) {
    auto axis = normalizeAxis(a, rank);
    if (!axis) return axis.status().withContext(ctx.node().describe());
    reduced[static_cast<size_t>(*axis)] = true;
  }
  std::vector<int64_t> out_shape;
  for (size_t d = 0; d < x->shape.size(); ++d) {
    if (!reduced[d]) out_shape.push_back(x->shape[d]);
    else if (keepdims) out_shape.push_back(1);
  }
  Tensor out;
  bool handled = dispatchNumeric(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    out = allocate<T>(x->dtype, out_shape, &y);
    reduceTyped<K, T>(*x, reduced, y);
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

}  // namespace

void registerReduceOps(OpRegistry& registry) {
  // One def per op; the kernel reads axes from the attribute or the input by opset.
  registry.add({"", "ReduceSum", 1, 1000, reduceOp<Kind::kSum>});
  registry.add({"", "ReduceMean", 1, 1000, reduceOp<Kind::kMean>});
  registry.add({"", "ReduceMax", 1, 1000, reduceOp<Kind::kMax>});
  registry.add({"", "ReduceMin", 1, 1000, reduceOp<Kind::kMin>});
  registry.add({"", "ReduceProd", 1, 1000, reduceOp<Kind::kProd>});
  registry.add({"", "ReduceL1", 1, 1000, reduceOp<Kind::kL1>});
  registry.add({"", "ReduceL2", 1, 1000, reduceOp<Kind::kL2>});
  registry.add({"", "ReduceLogSum", 1, 1000, reduceOp<Kind::kLogSum>});
  registry.add({"", "ReduceLogSumExp", 1, 1000, reduceOp<Kind::kLogSumExp>});
  registry.add({"", "ReduceSumSquare", 1, 1000, reduceOp<Kind::kSumSquare>});
}

}  // namespace nnc::ops::linalg

// ArgMax / ArgMin (opsets 1-21: axis, keepdims, select_last_index from 12) and TopK (opsets 1-9:
// k attribute; 10+: k input; 11+: largest, sorted, negative axis). TopK breaks ties by the lower
// index, like ONNX Runtime, and always returns sorted results (allowed when sorted=0). NaN counts
// as larger than any number, so comparisons stay a strict weak order.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>

#include "linalg.h"
#include "op_util.h"
#include "parallel.h"

namespace nnc::ops::linalg {
namespace {

template <typename T>
bool isNan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// a > b with NaN above everything.
template <typename T>
bool greater(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

// The [outer, n, inner] view of a tensor around one axis.
struct AxisView {
  int64_t outer, n, inner;
};
AxisView viewAround(const std::vector<int64_t>& shape, size_t axis) {
  return {product(shape, 0, axis), shape[axis], product(shape, axis + 1)};
}

template <bool kMax>
Status argOp(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  auto axis = normalizeAxis(ctx.attrInt("axis", 0), rank);
  if (!axis) return axis.status().withContext(ctx.node().describe());
  const bool keepdims = ctx.attrInt("keepdims", 1) != 0;
  const bool last = ctx.opset() >= 12 && ctx.attrInt("select_last_index", 0) != 0;
  const size_t ax = static_cast<size_t>(*axis);
  const AxisView v = viewAround(x->shape, ax);
  if (v.n == 0) return ctx.fail("cannot take " + std::string(kMax ? "ArgMax" : "ArgMin") + " over an empty axis");
  std::vector<int64_t> out_shape = x->shape;
  if (keepdims) out_shape[ax] = 1;
  else out_shape.erase(out_shape.begin() + *axis);
  int64_t* y = nullptr;
  Tensor out = allocate<int64_t>(DType::kInt64, out_shape, &y);
  bool handled = dispatchNumeric(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* p = x->dataAs<T>();
    // Whether candidate c replaces the current best b (ties: first or last index).
    auto better = [last](T c, T b) {
      if (isNan(b)) return false;  // the first NaN wins, as a comparison-based scan in ORT would keep it
      if (isNan(c)) return true;
      return kMax ? (last ? c >= b : c > b) : (last ? c <= b : c < b);
    };
    NNC_PARALLEL_FOR_IF(v.outer * v.n * v.inner > kMinParallelWork,
      for (int64_t o = 0; o < v.outer; ++o) {
        for (int64_t j = 0; j < v.inner; ++j) {
          const T* s = p + o * v.n * v.inner + j;
          int64_t best = 0;
          for (int64_t i = 1; i < v.n; ++i)
            if (better(s[i * v.inner], s[best * v.inner])) best = i;
          y[o * v.inner + j] = best;
        }
      });
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

Status topK(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  int64_t k = 0;
  if (ctx.opset() < 10) {
    k = ctx.attrInt("k", -1);
  } else {
    NNC_ASSIGN_OR_RETURN(const Tensor* kt, ctx.requiredInput(1));
    auto kv = readInts(*kt, "K");
    if (!kv) return kv.status().withContext(ctx.node().describe());
    if (kv->size() != 1) return ctx.fail("K must hold one value");
    k = (*kv)[0];
  }
  const bool largest = ctx.opset() < 11 || ctx.attrInt("largest", 1) != 0;
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  auto axis = normalizeAxis(ctx.attrInt("axis", -1), rank);
  if (!axis) return axis.status().withContext(ctx.node().describe());
  const size_t ax = static_cast<size_t>(*axis);
  const AxisView v = viewAround(x->shape, ax);
  if (k < 0 || k > v.n) return ctx.fail("K = " + std::to_string(k) + " is out of range for an axis of " + std::to_string(v.n));
  std::vector<int64_t> out_shape = x->shape;
  out_shape[ax] = k;
  int64_t* indices = nullptr;
  Tensor out_i = allocate<int64_t>(DType::kInt64, out_shape, &indices);
  Tensor out_v;
  bool handled = dispatchNumeric(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* values = nullptr;
    out_v = allocate<T>(x->dtype, out_shape, &values);
    const T* p = x->dataAs<T>();
    const int64_t slices = v.outer * v.inner;
    if (k == 0 || slices == 0) return;
    // Strict weak orders with ties broken by the lower index: the result is deterministic.
    auto before = [largest](const std::pair<T, int64_t>& a, const std::pair<T, int64_t>& b) {
      if (largest ? greater(a.first, b.first) : greater(b.first, a.first)) return true;
      if (largest ? greater(b.first, a.first) : greater(a.first, b.first)) return false;
      return a.second < b.second;
    };
#pragma omp parallel if (slices > 1 && slices * v.n > kMinParallelWork)
    {
      std::vector<std::pair<T, int64_t>> items(static_cast<size_t>(v.n));
#pragma omp for
      for (int64_t s = 0; s < slices; ++s) {
        const int64_t o = s / v.inner, j = s % v.inner;
        const T* src = p + o * v.n * v.inner + j;
        for (int64_t i = 0; i < v.n; ++i) items[static_cast<size_t>(i)] = {src[i * v.inner], i};
        if (k < v.n) std::partial_sort(items.begin(), items.begin() + k, items.end(), before);
        else std::sort(items.begin(), items.end(), before);
        const int64_t base = o * k * v.inner + j;
        for (int64_t i = 0; i < k; ++i) {
          values[base + i * v.inner] = items[static_cast<size_t>(i)].first;
          indices[base + i * v.inner] = items[static_cast<size_t>(i)].second;
        }
      }
    }
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  ctx.setOutput(0, std::move(out_v));
  ctx.setOutput(1, std::move(out_i));
  return Status::ok();
}

}  // namespace

void registerArgTopKOps(OpRegistry& registry) {
  registry.add({"", "ArgMax", 1, 1000, argOp<true>});
  registry.add({"", "ArgMin", 1, 1000, argOp<false>});
  // The kernel reads k from the attribute (1-9) or input 1 (10+), largest/sorted from 11.
  registry.add({"", "TopK", 1, 1000, topK});
}

}  // namespace nnc::ops::linalg

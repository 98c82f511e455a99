// Loops shared by the elementwise family (elementwise.cpp, unary_math.cpp, activations.cpp,
// compare_logic.cpp, binary_math.cpp, cast.cpp): chunked unary maps, broadcasting over
// contiguous runs (so bias-like broadcasts stay vectorized), and variadic folds.
// Internal to src/ops.
#pragma once

#include <algorithm>
#include <array>
#include <limits>
#include <type_traits>

#include "op_util.h"
#include "parallel.h"

namespace nnc::ops::ew {

// Below this many elements a loop runs on one thread (thread start-up costs more than the work).
constexpr int64_t kParallelElements = kMinParallelWork;
// Elements per chunk handed to a chunk function (fits L1/L2 comfortably).
constexpr int64_t kChunk = 4096;

// Calls fn(in + begin, out + begin, len) over chunks of [0, n), in parallel for big n.
template <typename T, typename R, typename F>
void forChunks(const T* in, R* out, int64_t n, F&& fn) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  NNC_PARALLEL_FOR_IF(n > kParallelElements,
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t begin = c * kChunk;
      fn(in + begin, out + begin, std::min(kChunk, n - begin));
    });
}

// A new tensor of `in`'s shape computed chunk-wise: fn(const T* in, R* out, int64_t len).
template <typename T, typename R, typename F>
Tensor mapChunks(const Tensor& in, DType out_type, F&& fn) {
  R* out = nullptr;
  Tensor result = allocate<R>(out_type, in.shape, &out);
  forChunks(in.dataAs<T>(), out, in.elementCount(), fn);
  return result;
}

// A new tensor with out[i] = fn(in[i]); the loop vectorizes when fn is simple.
template <typename T, typename R, typename F>
Tensor mapScalar(const Tensor& in, DType out_type, F&& fn) {
  return mapChunks<T, R>(in, out_type, [&](const T* a, R* b, int64_t len) {
    const auto f = fn;  // a local copy: its captures cannot alias b, so the loop vectorizes
    for (int64_t i = 0; i < len; ++i) b[i] = f(a[i]);
  });
}

// Output shape and per-input strides of a broadcast, with adjacent axes merged where every input
// is laid out alike, so the innermost axis is one contiguous (stride 1) or repeated (stride 0) run.
template <size_t N>
struct BroadcastPlan {
  std::vector<int64_t> shape;                   // merged output shape (rank >= 1)
  std::array<std::vector<int64_t>, N> strides;  // merged strides per input
};

template <size_t N>
BroadcastPlan<N> planBroadcast(const std::vector<int64_t>& out_shape, const std::array<const std::vector<int64_t>*, N>& in_shapes) {
  std::array<std::vector<int64_t>, N> full;
  for (size_t k = 0; k < N; ++k) full[k] = broadcastStrides(*in_shapes[k], out_shape);
  BroadcastPlan<N> plan;
  for (size_t d = 0; d < out_shape.size(); ++d) {
    if (out_shape[d] == 1) continue;  // size-1 axes carry nothing
    bool merge = !plan.shape.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = plan.strides[k].back() == full[k][d] * out_shape[d];
    if (merge) {
      plan.shape.back() *= out_shape[d];
      for (size_t k = 0; k < N; ++k) plan.strides[k].back() = full[k][d];
    } else {
      plan.shape.push_back(out_shape[d]);
      for (size_t k = 0; k < N; ++k) plan.strides[k].push_back(full[k][d]);
    }
  }
  if (plan.shape.empty()) {
    plan.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) plan.strides[k].push_back(0);
  }
  return plan;
}

// Visits the output of a broadcast as runs along the innermost merged axis:
// fn(out_offset, in_offsets, inner_strides (0 or 1 per input), len). Runs are split and spread
// over threads when the output is big.
template <size_t N, typename F>
void forEachRun(const BroadcastPlan<N>& plan, F&& fn) {
  const size_t rank = plan.shape.size();
  const int64_t len = plan.shape.back();
  const int64_t runs = product(plan.shape, 0, rank - 1);
  const int64_t total = runs * len;
  if (total == 0) return;
  std::array<int64_t, N> inner;
  for (size_t k = 0; k < N; ++k) inner[k] = plan.strides[k].back();
  // Offsets of run r, by dividing its index over the outer axes.
  auto offsetsOf = [&](int64_t r) {
    std::array<int64_t, N> off{};
    for (size_t d = rank - 1; d-- > 0;) {
      const int64_t i = r % plan.shape[d];
      r /= plan.shape[d];
      for (size_t k = 0; k < N; ++k) off[k] += i * plan.strides[k][d];
    }
    return off;
  };
  if (len >= 512 || runs == 1) {
    // Long runs: work items are (run, segment), each locating itself by division.
    const int64_t seg = std::min<int64_t>(len, 8192);
    const int64_t segs = (len + seg - 1) / seg;
    const int64_t items = runs * segs;
    NNC_PARALLEL_FOR_IF(total > kParallelElements && items > 1,
      for (int64_t it = 0; it < items; ++it) {
        const int64_t r = it / segs, s = (it % segs) * seg;
        std::array<int64_t, N> off = offsetsOf(r);
        for (size_t k = 0; k < N; ++k) off[k] += s * inner[k];
        fn(r * len + s, off, inner, std::min(seg, len - s));
      });
    return;
  }
  // Short runs: blocks of runs; an odometer walks the outer axes inside a block.
  const int64_t per_block = std::max<int64_t>(1, 8192 / len);
  const int64_t blocks = (runs + per_block - 1) / per_block;
  NNC_PARALLEL_FOR_IF(total > kParallelElements && blocks > 1,
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t first = b * per_block, last = std::min(runs, first + per_block);
      std::array<int64_t, N> off = offsetsOf(first);
      std::vector<int64_t> index(rank - 1, 0);
      int64_t rest = first;
      for (size_t d = rank - 1; d-- > 0;) {
        index[d] = rest % plan.shape[d];
        rest /= plan.shape[d];
      }
      for (int64_t r = first; r < last; ++r) {
        fn(r * len, off, inner, len);
        for (size_t d = rank - 1; d-- > 0;) {
          for (size_t k = 0; k < N; ++k) off[k] += plan.strides[k][d];
          if (++index[d] < plan.shape[d]) break;
          for (size_t k = 0; k < N; ++k) off[k] -= plan.strides[k][d] * plan.shape[d];
          index[d] = 0;
        }
      }
    });
}

// out = fn(a, b) with numpy broadcasting; a and b may have different element types (Pow, PRelu).
template <typename A, typename B, typename R, typename F>
Expected<Tensor> binary(const Tensor& a, const Tensor& b, DType out_type, F&& fn) {
  auto shape = broadcastShapes({a.shape, b.shape});
  if (!shape) return shape.status();
  R* out = nullptr;
  Tensor result = allocate<R>(out_type, *shape, &out);
  const A* pa = a.dataAs<A>();
  const B* pb = b.dataAs<B>();
  auto plan = planBroadcast<2>(*shape, {&a.shape, &b.shape});
  forEachRun<2>(plan, [&](int64_t o, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& inner, int64_t len) {
    const auto f = fn;  // a local copy: its captures cannot alias z, so the loops vectorize
    const A* x = pa + off[0];
    const B* y = pb + off[1];
    R* z = out + o;
    if (inner[0] && inner[1]) {
      for (int64_t i = 0; i < len; ++i) z[i] = f(x[i], y[i]);
    } else if (inner[0]) {
      const B v = *y;
      for (int64_t i = 0; i < len; ++i) z[i] = f(x[i], v);
    } else if (inner[1]) {
      const A v = *x;
      for (int64_t i = 0; i < len; ++i) z[i] = f(v, y[i]);
    } else {
      const R v = f(*x, *y);
      for (int64_t i = 0; i < len; ++i) z[i] = v;
    }
  });
  return result;
}

// Folds N >= 1 same-typed inputs pairwise with broadcasting (Sum, Min, Max, Mean).
template <typename T, typename F>
Expected<Tensor> foldInputs(const std::vector<const Tensor*>& inputs, F&& fn) {
  Tensor acc = *inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) {
    auto next = binary<T, T, T>(acc, *inputs[i], inputs[0]->dtype, fn);
    if (!next) return next.status();
    acc = std::move(next).value();
  }
  return acc;
}

// Integer arithmetic that wraps like two's complement instead of being undefined on overflow.
template <typename T>
T wrapAdd(T x, T y) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(static_cast<U>(x) + static_cast<U>(y)));
}
template <typename T>
T wrapSub(T x, T y) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(static_cast<U>(x) - static_cast<U>(y)));
}
template <typename T>
T wrapMul(T x, T y) {
  using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
  return static_cast<T>(static_cast<U>(static_cast<U>(x) * static_cast<U>(y)));
}

// Opsets 1-6 of binary ops (Add, And, Equal, Pow, ...): with broadcast=1, B is aligned to A at
// `axis` (or as a suffix); without it the shapes must match. Returns B reshaped for numpy
// broadcasting; opset 7+ returns B unchanged. Defined in elementwise.cpp.
Expected<Tensor> legacyBroadcastOperand(const KernelContext& ctx, const Tensor& a, const Tensor& b);

// float -> integer without undefined behaviour: truncation toward zero when the value fits; NaN and
// out-of-range values give what x86 conversions (and so numpy and ONNX Runtime on x86) give:
// the "indefinite" minimum for int32/int64, narrower types wrap from int32, uint32 from int64.
template <typename I, typename F>
I floatToInt(F v) {
  if constexpr (std::is_same_v<I, int64_t>) {
    if (!(v >= F(-9223372036854775808.0) && v < F(9223372036854775808.0))) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(v);
  } else if constexpr (std::is_same_v<I, uint64_t>) {
    if (v >= F(9223372036854775808.0))
      return v < F(18446744073709551616.0) ? static_cast<uint64_t>(v) : uint64_t{1} << 63;
    return static_cast<uint64_t>(floatToInt<int64_t>(v));
  } else if constexpr (std::is_same_v<I, uint32_t>) {
    return static_cast<uint32_t>(floatToInt<int64_t>(v));
  } else {
    if (!(v >= F(-2147483648.0) && v < F(2147483648.0))) return static_cast<I>(std::numeric_limits<int32_t>::min());
    return static_cast<I>(static_cast<int32_t>(v));
  }
}

// The message for a dtype a kernel does not handle.
inline std::string typeNotSupported(DType t) { return "type " + dtypeName(t) + " is not supported"; }

// Calls fn(T{}) for bool (as uint8_t) and every dtype dispatchNumeric knows.
template <typename F>
bool dispatchNumericOrBool(DType dtype, F&& fn) {
  if (dtype == DType::kBool) {
    fn(uint8_t{});
    return true;
  }
  return dispatchNumeric(dtype, fn);
}

// Calls fn(T{}) with the signed or unsigned integer type of an integer dtype.
template <typename F>
bool dispatchInteger(DType dtype, F&& fn) {
  switch (dtype) {
    case DType::kInt8: fn(int8_t{}); return true;
    case DType::kUInt8: fn(uint8_t{}); return true;
    case DType::kInt16: fn(int16_t{}); return true;
    case DType::kUInt16: fn(uint16_t{}); return true;
    case DType::kInt32: fn(int32_t{}); return true;
    case DType::kUInt32: fn(uint32_t{}); return true;
    case DType::kInt64: fn(int64_t{}); return true;
    case DType::kUInt64: fn(uint64_t{}); return true;
    default: return false;
  }
}

}  // namespace nnc::ops::ew

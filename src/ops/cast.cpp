// Cast (opsets 6-21) and CastLike (15-21) between bool, every integer type, float, double,
// float16 and bfloat16, both ways (native_half: 16-bit floats are read and written directly).
// Rounding to float16/bfloat16 is to nearest even; float -> integer truncates toward zero (NaN
// and out-of-range values as x86/numpy give them, see ew::floatToInt); anything -> bool is
// "!= 0". Not supported: strings, float8, 4-bit types (the `saturate` attribute of opset 19
// only matters for float8).
#include <type_traits>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "elementwise_util.h"

namespace nnc::ops {
namespace {

// Element types stored as bits: wrappers of the same size as their storage.
struct Bool { uint8_t bits; };
struct Half { uint16_t bits; };
struct BHalf { uint16_t bits; };

// The value as a plain arithmetic type (16-bit floats widen to float, bool to 0/1).
template <typename S>
auto load(S v) {
  if constexpr (std::is_same_v<S, Half>) return halfToFloat(v.bits);
  else if constexpr (std::is_same_v<S, BHalf>) return bfloat16ToFloat(v.bits);
  else if constexpr (std::is_same_v<S, Bool>) return static_cast<uint8_t>(v.bits != 0);
  else return v;
}

template <typename D, typename V>
D store(V v) {
  if constexpr (std::is_same_v<D, Bool>) {
    return Bool{static_cast<uint8_t>(v != V(0))};  // NaN is true
  } else if constexpr (std::is_same_v<D, Half>) {
    return Half{floatToHalf(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<D, BHalf>) {
    return BHalf{floatToBfloat16(static_cast<float>(v))};
  } else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<V>) {
    return ew::floatToInt<D>(v);
  } else {
    return static_cast<D>(v);  // integer narrowing wraps (two's complement, C++20)
  }
}

template <typename S, typename D>
Tensor convert(const Tensor& in, DType to) {
#if defined(__F16C__)
  // Hardware conversions round to nearest even like floatToHalf; 8 at a time.
  if constexpr (std::is_same_v<S, float> && std::is_same_v<D, Half>) {
    return ew::mapChunks<float, uint16_t>(in, to, [](const float* a, uint16_t* b, int64_t n) {
      int64_t i = 0;
      for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(b + i), _mm256_cvtps_ph(_mm256_loadu_ps(a + i), _MM_FROUND_TO_NEAREST_INT));
      for (; i < n; ++i) b[i] = floatToHalf(a[i]);
    });
  }
  if constexpr (std::is_same_v<S, Half> && std::is_same_v<D, float>) {
    return ew::mapChunks<uint16_t, float>(in, to, [](const uint16_t* a, float* b, int64_t n) {
      int64_t i = 0;
      for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(b + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i))));
      for (; i < n; ++i) b[i] = halfToFloat(a[i]);
    });
  }
#endif
  return ew::mapScalar<S, D>(in, to, [](S v) { return store<D>(load(v)); });
}

// Calls fn(T{}) with the element type (or bit wrapper) of a castable dtype.
template <typename F>
bool dispatchCastable(DType dtype, F&& fn) {
  switch (dtype) {
    case DType::kBool: fn(Bool{}); return true;
    case DType::kFloat16: fn(Half{}); return true;
    case DType::kBFloat16: fn(BHalf{}); return true;
    default: return dispatchNumeric(dtype, fn);
  }
}

Status castTo(KernelContext& ctx, const Tensor& x, DType to) {
  if (x.dtype == to) {
    ctx.setOutput(0, x);  // shares the buffer: tensors are immutable
    return Status::ok();
  }
  bool handled = false;
  dispatchCastable(x.dtype, [&](auto s) {
    using S = decltype(s);
    handled = dispatchCastable(to, [&](auto d) {
      using D = decltype(d);
      ctx.setOutput(0, convert<S, D>(x, to));
    });
  });
  if (!handled) return ctx.unsupportedHere("cast from " + dtypeName(x.dtype) + " to " + dtypeName(to) + " is not supported");
  return Status::ok();
}

Status cast(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (!ctx.hasAttr("to")) return ctx.fail("missing attribute 'to'");
  auto to = dtypeFromOnnx(static_cast<int32_t>(ctx.attrInt("to", 0)));
  if (!to) return ctx.fail("attribute 'to' is not a known data type: " + std::to_string(ctx.attrInt("to", 0)));
  return castTo(ctx, *x, *to);
}

Status castLike(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* like, ctx.requiredInput(1));
  return castTo(ctx, *x, like->dtype);
}

}  // namespace

void registerCastOps(OpRegistry& registry) {
  registry.add({"", "Cast", 6, 1000, cast, true});
  registry.add({"", "CastLike", 15, 1000, castLike, true});
}

}  // namespace nnc::ops

// Binary and variadic math with numpy broadcasting: Pow (opsets 1-21; base int32/int64/float
// types, exponent of any numeric type from opset 12), Mod (10-21, fmod attribute), Min, Max,
// Sum (1-21, every numeric type), Mean (1-21, float types).
// Pow handles float16/bfloat16 itself (native_half) because its base and exponent types differ:
// a float32 base with a float16 exponent must stay float32.
#include <cmath>

#include "elementwise_util.h"

namespace nnc::ops {
namespace {

bool isHalf(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

Tensor halfToFloatTensor(const Tensor& t) {
  if (t.dtype == DType::kFloat16) return ew::mapScalar<uint16_t, float>(t, DType::kFloat, [](uint16_t h) { return halfToFloat(h); });
  return ew::mapScalar<uint16_t, float>(t, DType::kFloat, [](uint16_t h) { return bfloat16ToFloat(h); });
}

Tensor floatToHalfTensor(const Tensor& t, DType half) {
  if (half == DType::kFloat16) return ew::mapScalar<float, uint16_t>(t, half, [](float f) { return floatToHalf(f); });
  return ew::mapScalar<float, uint16_t>(t, half, [](float f) { return floatToBfloat16(f); });
}

// Integer power by squaring, wrapping on overflow; a negative exponent truncates 1/x^n.
template <typename B, typename E>
B intPow(B x, E e) {
  if constexpr (std::is_signed_v<E>) {
    if (e < 0) {
      if (x == B(1)) return B(1);
      if constexpr (std::is_signed_v<B>)
        if (x == B(-1)) return (e & 1) ? B(-1) : B(1);
      return B(0);
    }
  }
  B result = 1, base = x;
  for (auto n = static_cast<uint64_t>(e); n != 0; n >>= 1) {
    if (n & 1) result = ew::wrapMul(result, base);
    base = ew::wrapMul(base, base);
  }
  return result;
}

template <typename B, typename E>
B powElement(B x, E e) {
  if constexpr (std::is_floating_point_v<B>) {
    using C = std::conditional_t<std::is_same_v<B, double> || std::is_same_v<E, double>, double, B>;
    return static_cast<B>(std::pow(static_cast<C>(x), static_cast<C>(e)));
  } else if constexpr (std::is_floating_point_v<E>) {
    return ew::floatToInt<B>(std::pow(static_cast<double>(x), static_cast<double>(e)));
  } else {
    return intPow(x, e);
  }
}

template <typename B>
Expected<Tensor> powWithBase(const KernelContext& ctx, const Tensor& base, const Tensor& exponent) {
  // Common float cases with a scalar exponent, as ONNX Runtime special-cases them.
  if constexpr (std::is_floating_point_v<B>) {
    if (exponent.elementCount() == 1 && exponent.shape.size() <= base.shape.size()) {
      auto e = readDoubles(exponent, "exponent");
      if (e && ((*e)[0] == 2.0 || (*e)[0] == 0.5 || (*e)[0] == 1.0)) {
        const double v = (*e)[0];
        Tensor out = v == 2.0   ? ew::mapScalar<B, B>(base, base.dtype, [](B x) { return x * x; })
                     : v == 0.5 ? ew::mapScalar<B, B>(base, base.dtype, [](B x) { return std::sqrt(x); })
                                : ew::mapScalar<B, B>(base, base.dtype, [](B x) { return x; });
        return out;  // the exponent's rank is at most the base's: the shape is the base's
      }
    }
  }
  Expected<Tensor> result = unsupported("");
  bool handled = dispatchNumeric(exponent.dtype, [&](auto zero) {
    using E = decltype(zero);
    result = ew::binary<B, E, B>(base, exponent, base.dtype, [](B x, E e) { return powElement(x, e); });
  });
  if (!handled) return ctx.unsupportedHere("exponent " + ew::typeNotSupported(exponent.dtype));
  if (!result) return result.status().withContext(ctx.node().describe());
  return result;
}

Status pow(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(Tensor exponent, ew::legacyBroadcastOperand(ctx, *a, *b));
  const DType half = isHalf(a->dtype) ? a->dtype : DType::kUndefined;
  const Tensor base = half != DType::kUndefined ? halfToFloatTensor(*a) : *a;
  if (isHalf(exponent.dtype)) exponent = halfToFloatTensor(exponent);
  Expected<Tensor> out = unsupported("");
  switch (base.dtype) {
    case DType::kFloat: out = powWithBase<float>(ctx, base, exponent); break;
    case DType::kDouble: out = powWithBase<double>(ctx, base, exponent); break;
    case DType::kInt32: out = powWithBase<int32_t>(ctx, base, exponent); break;
    case DType::kInt64: out = powWithBase<int64_t>(ctx, base, exponent); break;
    default: return ctx.unsupportedHere("base " + ew::typeNotSupported(a->dtype));
  }
  if (!out) return out.status();
  ctx.setOutput(0, half != DType::kUndefined ? floatToHalfTensor(*out, half) : std::move(out).value());
  return Status::ok();
}

template <typename T>
T modElement(T x, T y, bool c_fmod) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fmod(x, y);
  } else {
    if (y == T(0)) return T(0);  // no trap, like integer Div
    if constexpr (std::is_signed_v<T>) {
      if (y == T(-1)) return T(0);  // MIN % -1 would trap
      T r = static_cast<T>(x % y);
      if (!c_fmod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);  // sign of the divisor
      return r;
    } else {
      return static_cast<T>(x % y);
    }
  }
}

Status mod(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b, ctx.requiredInput(1));
  if (a->dtype != b->dtype) return ctx.fail("inputs have different types " + dtypeName(a->dtype) + " and " + dtypeName(b->dtype));
  const bool c_fmod = ctx.attrInt("fmod", 0) != 0;
  if (!c_fmod && isFloatingPoint(a->dtype)) return ctx.fail("fmod must be 1 for floating-point inputs");
  Status status;
  bool handled = dispatchNumeric(a->dtype, [&](auto zero) {
    using T = decltype(zero);
    auto out = ew::binary<T, T, T>(*a, *b, a->dtype, [c_fmod](T x, T y) { return modElement(x, y, c_fmod); });
    if (!out) status = out.status().withContext(ctx.node().describe());
    else ctx.setOutput(0, std::move(out).value());
  });
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(a->dtype));
  return status;
}

// Min/Max propagate NaN from either side, as numpy.minimum/maximum and ONNX Runtime do.
struct MinOp {
  template <typename T> static T apply(T x, T y) {
    if constexpr (std::is_floating_point_v<T>) {
      if (x != x) return x;
      if (y != y) return y;
    }
    return y < x ? y : x;
  }
};
struct MaxOp {
  template <typename T> static T apply(T x, T y) {
    if constexpr (std::is_floating_point_v<T>) {
      if (x != x) return x;
      if (y != y) return y;
    }
    return x < y ? y : x;
  }
};
struct SumOp {
  template <typename T> static T apply(T x, T y) {
    if constexpr (std::is_integral_v<T>) return ew::wrapAdd(x, y);
    else return x + y;
  }
};

// Min, Max, Sum, Mean: N >= 1 inputs of one type, all broadcast together.
template <typename Op, bool kMean>
Status variadic(KernelContext& ctx) {
  std::vector<const Tensor*> inputs;
  for (size_t i = 0; i < ctx.inputCount(); ++i) {
    NNC_ASSIGN_OR_RETURN(const Tensor* t, ctx.requiredInput(i));
    if (t->dtype != ctx.input(0)->dtype) return ctx.fail("inputs have different types " + dtypeName(ctx.input(0)->dtype) + " and " + dtypeName(t->dtype));
    inputs.push_back(t);
  }
  if (inputs.empty()) return ctx.fail("needs at least one input");
  const DType dtype = inputs[0]->dtype;
  Status status;
  auto run = [&](auto zero) {
    using T = decltype(zero);
    auto out = ew::foldInputs<T>(inputs, [](T x, T y) { return Op::apply(x, y); });
    if (!out) return void(status = out.status().withContext(ctx.node().describe()));
    if constexpr (kMean && std::is_floating_point_v<T>) {
      if (inputs.size() > 1) {
        const T n = static_cast<T>(inputs.size());
        out = ew::mapScalar<T, T>(*out, dtype, [n](T v) { return v / n; });
      }
    }
    ctx.setOutput(0, std::move(out).value());
  };
  const bool handled = kMean ? dispatchFloat(dtype, run) : dispatchNumeric(dtype, run);
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(dtype));
  return status;
}

}  // namespace

void registerBinaryMathOps(OpRegistry& registry) {
  registry.add({"", "Pow", 1, 1000, pow, true});
  registry.add({"", "Mod", 10, 1000, mod});
  // Before opset 8 the variadic ops required equal shapes; broadcasting accepts those too.
  registry.add({"", "Min", 1, 1000, variadic<MinOp, false>});
  registry.add({"", "Max", 1, 1000, variadic<MaxOp, false>});
  registry.add({"", "Sum", 1, 1000, variadic<SumOp, false>});
  registry.add({"", "Mean", 1, 1000, variadic<SumOp, true>});
}

}  // namespace nnc::ops

// Unary math: Abs, Neg, Sign (opsets 1/9-21, every numeric type), Exp, Log, Sqrt, Reciprocal,
// Floor, Ceil (1-21), Round (11-21, half to even), trigonometric and hyperbolic functions (7/9-21),
// Erf (9-21), IsNaN (9-21), IsInf (10-21), Not (1-21), BitwiseNot (18-21).
// float32 runs chunk-wise through Eigen's vectorized exp/log/sqrt/erf (about 1 ulp; erf ~4e-7
// relative); double uses the C library. float16/bfloat16 are computed in float32 by the session.
#include <Eigen/Core>
#include <cmath>
#include <unsupported/Eigen/SpecialFunctions>

#include "elementwise_util.h"

namespace nnc::ops {
namespace {

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

enum class Types { kFloat, kNumeric };

// Ops define apply<T>(x); those with a faster float32 form also define f32(in, out, n).
template <typename Op, typename = void>
struct HasF32 : std::false_type {};
template <typename Op>
struct HasF32<Op, std::void_t<decltype(Op::f32(nullptr, nullptr, 0))>> : std::true_type {};

template <typename Op, Types types>
Status unaryKernel(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if constexpr (HasF32<Op>::value) {
    if (x->dtype == DType::kFloat) {
      ctx.setOutput(0, ew::mapChunks<float, float>(*x, DType::kFloat, [](const float* a, float* b, int64_t n) { Op::f32(a, b, n); }));
      return Status::ok();
    }
  }
  auto run = [&](auto zero) {
    using T = decltype(zero);
    ctx.setOutput(0, ew::mapScalar<T, T>(*x, x->dtype, [](T v) { return Op::template apply<T>(v); }));
  };
  const bool handled = types == Types::kFloat ? dispatchFloat(x->dtype, run) : dispatchNumeric(x->dtype, run);
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(x->dtype));
  return Status::ok();
}

struct AbsOp {
  template <typename T> static T apply(T x) {
    if constexpr (std::is_unsigned_v<T>) return x;
    else if constexpr (std::is_integral_v<T>) return x < 0 ? ew::wrapSub(T(0), x) : x;
    else return std::fabs(x);
  }
};
struct NegOp {
  template <typename T> static T apply(T x) {
    if constexpr (std::is_integral_v<T>) return ew::wrapSub(T(0), x);
    else return -x;
  }
};
struct SignOp {
  template <typename T> static T apply(T x) {
    if constexpr (std::is_unsigned_v<T>) return x > 0 ? T(1) : T(0);
    else return x > T(0) ? T(1) : x < T(0) ? T(-1) : x;  // 0 and NaN stay as they are
  }
};
struct ExpOp {
  template <typename T> static T apply(T x) { return std::exp(x); }
  static void f32(const float* a, float* b, int64_t n) { ArrayMap(b, n) = ConstArrayMap(a, n).exp(); }
};
struct LogOp {
  template <typename T> static T apply(T x) { return std::log(x); }
  static void f32(const float* a, float* b, int64_t n) { ArrayMap(b, n) = ConstArrayMap(a, n).log(); }
};
struct SqrtOp {
  template <typename T> static T apply(T x) { return std::sqrt(x); }
  static void f32(const float* a, float* b, int64_t n) { ArrayMap(b, n) = ConstArrayMap(a, n).sqrt(); }
};
struct ErfOp {
  template <typename T> static T apply(T x) { return std::erf(x); }
  static void f32(const float* a, float* b, int64_t n) { ArrayMap(b, n) = ConstArrayMap(a, n).erf(); }
};
struct ReciprocalOp { template <typename T> static T apply(T x) { return T(1) / x; } };
struct FloorOp { template <typename T> static T apply(T x) { return std::floor(x); } };
struct CeilOp { template <typename T> static T apply(T x) { return std::ceil(x); } };
struct RoundOp { template <typename T> static T apply(T x) { return std::nearbyint(x); } };  // half to even
struct SinOp { template <typename T> static T apply(T x) { return std::sin(x); } };
struct CosOp { template <typename T> static T apply(T x) { return std::cos(x); } };
struct TanOp { template <typename T> static T apply(T x) { return std::tan(x); } };
struct AsinOp { template <typename T> static T apply(T x) { return std::asin(x); } };
struct AcosOp { template <typename T> static T apply(T x) { return std::acos(x); } };
struct AtanOp { template <typename T> static T apply(T x) { return std::atan(x); } };
struct SinhOp { template <typename T> static T apply(T x) { return std::sinh(x); } };
struct CoshOp { template <typename T> static T apply(T x) { return std::cosh(x); } };
struct AsinhOp { template <typename T> static T apply(T x) { return std::asinh(x); } };
struct AcoshOp { template <typename T> static T apply(T x) { return std::acosh(x); } };
struct AtanhOp { template <typename T> static T apply(T x) { return std::atanh(x); } };

Status isNaN(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    ctx.setOutput(0, ew::mapScalar<T, uint8_t>(*x, DType::kBool, [](T v) { return static_cast<uint8_t>(v != v); }));
  });
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(x->dtype));
  return Status::ok();
}

Status isInf(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  const bool positive = ctx.attrInt("detect_positive", 1) != 0;
  const bool negative = ctx.attrInt("detect_negative", 1) != 0;
  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    const T inf = std::numeric_limits<T>::infinity();
    ctx.setOutput(0, ew::mapScalar<T, uint8_t>(*x, DType::kBool, [=](T v) {
      return static_cast<uint8_t>((positive && v == inf) || (negative && v == -inf));
    }));
  });
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(x->dtype));
  return Status::ok();
}

Status logicalNot(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (x->dtype != DType::kBool) return ctx.unsupportedHere(ew::typeNotSupported(x->dtype));
  ctx.setOutput(0, ew::mapScalar<uint8_t, uint8_t>(*x, DType::kBool, [](uint8_t v) { return static_cast<uint8_t>(v == 0); }));
  return Status::ok();
}

Status bitwiseNot(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  bool handled = ew::dispatchInteger(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    ctx.setOutput(0, ew::mapScalar<T, T>(*x, x->dtype, [](T v) { return static_cast<T>(~v); }));
  });
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(x->dtype));
  return Status::ok();
}

}  // namespace

void registerUnaryMathOps(OpRegistry& registry) {
  // Opset 1 forms differ only by the ignored `consumed_inputs` attribute.
  registry.add({"", "Abs", 1, 1000, unaryKernel<AbsOp, Types::kNumeric>});
  registry.add({"", "Neg", 1, 1000, unaryKernel<NegOp, Types::kNumeric>});
  registry.add({"", "Sign", 9, 1000, unaryKernel<SignOp, Types::kNumeric>});
  registry.add({"", "Exp", 1, 1000, unaryKernel<ExpOp, Types::kFloat>});
  registry.add({"", "Log", 1, 1000, unaryKernel<LogOp, Types::kFloat>});
  registry.add({"", "Sqrt", 1, 1000, unaryKernel<SqrtOp, Types::kFloat>});
  registry.add({"", "Reciprocal", 1, 1000, unaryKernel<ReciprocalOp, Types::kFloat>});
  registry.add({"", "Floor", 1, 1000, unaryKernel<FloorOp, Types::kFloat>});
  registry.add({"", "Ceil", 1, 1000, unaryKernel<CeilOp, Types::kFloat>});
  registry.add({"", "Round", 11, 1000, unaryKernel<RoundOp, Types::kFloat>});
  registry.add({"", "Erf", 9, 1000, unaryKernel<ErfOp, Types::kFloat>});
  registry.add({"", "Sin", 7, 1000, unaryKernel<SinOp, Types::kFloat>});
  registry.add({"", "Cos", 7, 1000, unaryKernel<CosOp, Types::kFloat>});
  registry.add({"", "Tan", 7, 1000, unaryKernel<TanOp, Types::kFloat>});
  registry.add({"", "Asin", 7, 1000, unaryKernel<AsinOp, Types::kFloat>});
  registry.add({"", "Acos", 7, 1000, unaryKernel<AcosOp, Types::kFloat>});
  registry.add({"", "Atan", 7, 1000, unaryKernel<AtanOp, Types::kFloat>});
  registry.add({"", "Sinh", 9, 1000, unaryKernel<SinhOp, Types::kFloat>});
  registry.add({"", "Cosh", 9, 1000, unaryKernel<CoshOp, Types::kFloat>});
  registry.add({"", "Asinh", 9, 1000, unaryKernel<AsinhOp, Types::kFloat>});
  registry.add({"", "Acosh", 9, 1000, unaryKernel<AcoshOp, Types::kFloat>});
  registry.add({"", "Atanh", 9, 1000, unaryKernel<AtanhOp, Types::kFloat>});
  registry.add({"", "IsNaN", 9, 1000, isNaN});
  registry.add({"", "IsInf", 10, 1000, isInf});
  registry.add({"", "Not", 1, 1000, logicalNot});
  registry.add({"", "BitwiseNot", 18, 1000, bitwiseNot});
}

}  // namespace nnc::ops

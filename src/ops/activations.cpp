// Activations: Relu (1-21, every numeric type), Sigmoid, Tanh, LeakyRelu, Elu, Selu, Softplus,
// Softsign, HardSigmoid (1-21), Celu (12-21), ThresholdedRelu (10-21), HardSwish (14-21),
// Mish (18-21), Gelu (20-21, approximate none/tanh), PRelu (7-21, slope broadcast to X),
// Clip (1-10: min/max attributes; 11-21: optional min/max inputs).
// float32 runs chunk-wise through Eigen's vectorized exp/tanh/erf (relative error below 1e-6);
// double uses the C library. float16/bfloat16 are computed in float32 by the session.
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <unsupported/Eigen/SpecialFunctions>

#include "elementwise_util.h"

namespace nnc::ops {
namespace {

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// Runs an activation functor built from the node's attributes: float32 through op.f32 (chunks),
// double through op.apply<double>.
template <typename Op>
Status floatActivation(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  const Op op(ctx);
  if (x->dtype == DType::kFloat) {
    ctx.setOutput(0, ew::mapChunks<float, float>(*x, DType::kFloat, [&](const float* a, float* b, int64_t n) { op.f32(a, b, n); }));
  } else if (x->dtype == DType::kDouble) {
    ctx.setOutput(0, ew::mapScalar<double, double>(*x, DType::kDouble, [&](double v) { return op.apply(v); }));
  } else {
    return ctx.unsupportedHere(ew::typeNotSupported(x->dtype));
  }
  return Status::ok();
}

struct Sigmoid {
  explicit Sigmoid(const KernelContext&) {}
  template <typename T> T apply(T x) const { return T(1) / (T(1) + std::exp(-x)); }
  // 1/(1+exp(-x)) stays within 2e-7 relative; exp(-x) = inf gives the exact limit 0.
  void f32(const float* a, float* b, int64_t n) const { ArrayMap(b, n) = (1.0f + (-ConstArrayMap(a, n)).exp()).inverse(); }
};

struct Tanh {
  explicit Tanh(const KernelContext&) {}
  template <typename T> T apply(T x) const { return std::tanh(x); }
  void f32(const float* a, float* b, int64_t n) const { ArrayMap(b, n) = ConstArrayMap(a, n).tanh(); }
};

struct LeakyRelu {
  float alpha;
  explicit LeakyRelu(const KernelContext& ctx) : alpha(ctx.attrFloat("alpha", 0.01f)) {}
  template <typename T> T apply(T x) const { return x < T(0) ? static_cast<T>(alpha) * x : x; }
  void f32(const float* a, float* b, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) b[i] = apply(a[i]);
  }
};

struct Elu {
  float alpha;
  explicit Elu(const KernelContext& ctx) : alpha(ctx.attrFloat("alpha", 1.0f)) {}
  template <typename T> T apply(T x) const { return x < T(0) ? static_cast<T>(alpha) * std::expm1(x) : x; }
  void f32(const float* a, float* b, int64_t n) const {
    ConstArrayMap x(a, n);
    ArrayMap(b, n) = (x < 0.0f).select(alpha * x.expm1(), x);
  }
};

struct Selu {
  float alpha, gamma;
  explicit Selu(const KernelContext& ctx)
      : alpha(ctx.attrFloat("alpha", 1.67326319217681884765625f)), gamma(ctx.attrFloat("gamma", 1.05070102214813232421875f)) {}
  template <typename T> T apply(T x) const {
    return static_cast<T>(gamma) * (x > T(0) ? x : static_cast<T>(alpha) * std::expm1(x));
  }
  void f32(const float* a, float* b, int64_t n) const {
    ConstArrayMap x(a, n);
    ArrayMap(b, n) = gamma * (x > 0.0f).select(x, alpha * x.expm1());
  }
};

struct Celu {
  float alpha;
  explicit Celu(const KernelContext& ctx) : alpha(ctx.attrFloat("alpha", 1.0f)) {}
  template <typename T> T apply(T x) const {
    const T a = static_cast<T>(alpha);
    return std::max(T(0), x) + std::min(T(0), a * std::expm1(x / a));
  }
  void f32(const float* a, float* b, int64_t n) const {
    ConstArrayMap x(a, n);
    ArrayMap(b, n) = x.max(0.0f) + (alpha * (x / alpha).expm1()).min(0.0f);
  }
};

struct Softplus {
  explicit Softplus(const KernelContext&) {}
  // log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)).
  template <typename T> T apply(T x) const { return std::max(x, T(0)) + std::log1p(std::exp(-std::fabs(x))); }
  void f32(const float* a, float* b, int64_t n) const {
    ConstArrayMap x(a, n);
    ArrayMap(b, n) = x.max(0.0f) + (-x.abs()).exp().log1p();
  }
};

struct Softsign {
  explicit Softsign(const KernelContext&) {}
  template <typename T> T apply(T x) const { return x / (T(1) + std::fabs(x)); }
  void f32(const float* a, float* b, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) b[i] = apply(a[i]);
  }
};

struct HardSigmoid {
  float alpha, beta;
  explicit HardSigmoid(const KernelContext& ctx) : alpha(ctx.attrFloat("alpha", 0.2f)), beta(ctx.attrFloat("beta", 0.5f)) {}
  template <typename T> T apply(T x) const {
    return std::max(T(0), std::min(T(1), static_cast<T>(alpha) * x + static_cast<T>(beta)));
  }
  void f32(const float* a, float* b, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) b[i] = apply(a[i]);
  }
};

struct HardSwish {
  explicit HardSwish(const KernelContext&) {}
  template <typename T> T apply(T x) const { return x * std::max(T(0), std::min(T(1), x / T(6) + T(0.5))); }
  void f32(const float* a, float* b, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) b[i] = apply(a[i]);
  }
};

struct ThresholdedRelu {
  float alpha;
  explicit ThresholdedRelu(const KernelContext& ctx) : alpha(ctx.attrFloat("alpha", 1.0f)) {}
  template <typename T> T apply(T x) const { return x > static_cast<T>(alpha) ? x : T(0); }
  void f32(const float* a, float* b, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) b[i] = apply(a[i]);
  }
};

struct Mish {
  explicit Mish(const KernelContext&) {}
  template <typename T> T apply(T x) const { return x * std::tanh(std::max(x, T(0)) + std::log1p(std::exp(-std::fabs(x)))); }
  void f32(const float* a, float* b, int64_t n) const {
    ConstArrayMap x(a, n);
    ArrayMap(b, n) = x * (x.max(0.0f) + (-x.abs()).exp().log1p()).tanh();
  }
};

struct Gelu {
  bool tanh_form;
  explicit Gelu(const KernelContext& ctx) : tanh_form(ctx.attrString("approximate", "none") == "tanh") {}
  // 0.5*x*(1+tanh(z)) is computed as x/(1+exp(-2z)), and 0.5*x*(1+erf(x/sqrt2)) below -1.5 as
  // 0.5*x*erfc(-x/sqrt2): the textbook forms cancel in the negative tail and lose relative accuracy.
  template <typename T> T apply(T x) const {
    if (tanh_form) return x / (T(1) + std::exp(T(-1.5957691216057308) * (x + T(0.044715) * x * x * x)));
    return T(0.5) * x * std::erfc(x * T(-0.7071067811865476));
  }
  void f32(const float* a, float* b, int64_t n) const {
    ConstArrayMap x(a, n);
    // The rare negative tail is redone in scalar double: exp/erfc there amplify the rounding of
    // their float argument beyond 1e-6 relative.
    if (tanh_form) {
      ArrayMap(b, n) = x / (1.0f + (-1.5957691216057308f * (x + 0.044715f * x.cube())).exp());
      for (int64_t i = 0; i < n; ++i)
        if (a[i] < -2.0f) b[i] = static_cast<float>(apply(static_cast<double>(a[i])));
      return;
    }
    ArrayMap(b, n) = 0.5f * x * (1.0f + (x * 0.7071067811865476f).erf());
    for (int64_t i = 0; i < n; ++i)
      if (a[i] < -1.5f) b[i] = static_cast<float>(apply(static_cast<double>(a[i])));
  }
};

Status relu(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  bool handled = dispatchNumeric(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    ctx.setOutput(0, ew::mapScalar<T, T>(*x, x->dtype, [](T v) { return v > T(0) ? v : T(0); }));
  });
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(x->dtype));
  return Status::ok();
}

Status prelu(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* slope, ctx.requiredInput(1));
  if (x->dtype != slope->dtype) return ctx.fail("X and slope have different types " + dtypeName(x->dtype) + " and " + dtypeName(slope->dtype));
  // Unidirectional broadcast: slope must broadcast to X's shape.
  auto shape = broadcastShapes({x->shape, slope->shape});
  if (!shape || *shape != x->shape)
    return ctx.fail("slope of shape " + shapeToString(slope->shape) + " does not broadcast to X of shape " + shapeToString(x->shape));
  Status status;
  bool handled = dispatchNumeric(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    auto out = ew::binary<T, T, T>(*x, *slope, x->dtype, [](T v, T s) { return v < T(0) ? static_cast<T>(s * v) : v; });
    if (!out) status = out.status().withContext(ctx.node().describe());
    else ctx.setOutput(0, std::move(out).value());
  });
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(x->dtype));
  return status;
}

// Clip's bound: the attribute (opsets 1-10) or the optional scalar input (11+), else `fallback`.
template <typename T>
Expected<T> clipBound(const KernelContext& ctx, size_t input, const char* attr, T fallback) {
  if (ctx.opset() < 11) return ctx.hasAttr(attr) ? static_cast<T>(ctx.attrFloat(attr, 0.0f)) : fallback;
  const Tensor* t = ctx.input(input);
  if (t == nullptr) return fallback;
  if (t->dtype != ctx.input(0)->dtype) return ctx.fail(std::string(attr) + " has type " + dtypeName(t->dtype) + ", unlike the input");
  if (t->elementCount() != 1) return ctx.fail(std::string(attr) + " must be a scalar, got shape " + shapeToString(t->shape));
  return t->dataAs<T>()[0];
}

Status clip(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  Status status;
  bool handled = dispatchNumeric(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    auto lo = clipBound<T>(ctx, 1, "min", std::numeric_limits<T>::lowest());
    auto hi = clipBound<T>(ctx, 2, "max", std::numeric_limits<T>::max());
    if (!lo) return void(status = lo.status());
    if (!hi) return void(status = hi.status());
    const T l = *lo, h = *hi;
    // min(max(x, lo), hi): NaN stays NaN; lo > hi gives hi, as numpy.clip and ONNX Runtime do.
    ctx.setOutput(0, ew::mapScalar<T, T>(*x, x->dtype, [=](T v) { return std::min(std::max(v, l), h); }));
  });
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(x->dtype));
  return status;
}

}  // namespace

void registerActivationOps(OpRegistry& registry) {
  // Opset 1 forms differ only by the ignored `consumed_inputs` attribute.
  registry.add({"", "Relu", 1, 1000, relu});
  registry.add({"", "Sigmoid", 1, 1000, floatActivation<Sigmoid>});
  registry.add({"", "Tanh", 1, 1000, floatActivation<Tanh>});
  registry.add({"", "LeakyRelu", 1, 1000, floatActivation<LeakyRelu>});
  registry.add({"", "Elu", 1, 1000, floatActivation<Elu>});
  registry.add({"", "Selu", 1, 1000, floatActivation<Selu>});
  registry.add({"", "Celu", 12, 1000, floatActivation<Celu>});
  registry.add({"", "Softplus", 1, 1000, floatActivation<Softplus>});
  registry.add({"", "Softsign", 1, 1000, floatActivation<Softsign>});
  registry.add({"", "HardSigmoid", 1, 1000, floatActivation<HardSigmoid>});
  registry.add({"", "HardSwish", 14, 1000, floatActivation<HardSwish>});
  registry.add({"", "ThresholdedRelu", 10, 1000, floatActivation<ThresholdedRelu>});
  registry.add({"", "Mish", 18, 1000, floatActivation<Mish>});
  registry.add({"", "Gelu", 20, 1000, floatActivation<Gelu>});
  registry.add({"", "PRelu", 7, 1000, prelu});
  registry.add({"", "Clip", 1, 1000, clip});
}

}  // namespace nnc::ops

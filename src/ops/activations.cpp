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

// A loop over a local copy of the functor: its parameters then live in registers instead of
// being reloaded after every store through b (which might alias them), so the loop vectorizes.
template <typename Op>
void scalarLoop(const Op& op, const float* a, float* b, int64_t n) {
  const Op local = op;
  for (int64_t i = 0; i < n; ++i) b[i] = local.apply(a[i]);
}

constexpr int64_t kBlock = 1024;

// expm1 of a block (n <= kBlock): exp(x) - 1 where that is accurate (|x| >= 0.35, relative error
// below 3e-7), a degree-8 Taylor polynomial below. Eigen 3.4's expm1 is scalar (7x slower).
void expm1Block(const float* a, float* out, int64_t n) {
  alignas(64) float poly[kBlock];
  ConstArrayMap x(a, n);
  ArrayMap(out, n) = x.exp() - 1.0f;
  ArrayMap(poly, n) = x * (1.0f + x * (1.0f / 2 + x * (1.0f / 6 + x * (1.0f / 24 + x * (1.0f / 120 + x * (1.0f / 720 +
                      x * (1.0f / 5040 + x * (1.0f / 40320))))))));
  for (int64_t i = 0; i < n; ++i) {  // a plain select of loaded values: vectorizes
    const float v = a[i], p = poly[i], e = out[i];
    out[i] = std::fabs(v) < 0.35f ? p : e;
  }
}

// b = x < 0 ? neg : pos, blockwise: neg(a, buf, len) fills a buffer, pos(x) is an Eigen
// expression, and a plain select loop merges them (Eigen 3.4's select() is not vectorized and
// would drag the whole expression down to scalar code).
template <typename Neg, typename Pos>
void selectNegative(const float* a, float* b, int64_t n, Neg&& neg, Pos&& pos) {
  alignas(64) float buf[kBlock];
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    const int64_t len = std::min(kBlock, n - begin);
    neg(a + begin, buf, len);
    ArrayMap(b + begin, len) = pos(ConstArrayMap(a + begin, len));
    for (int64_t i = 0; i < len; ++i) {
      const float v = a[begin + i], m = buf[i], p = b[begin + i];
      b[begin + i] = v < 0.0f ? m : p;
    }
  }
}

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
  // max(x,0) + alpha*min(x,0) equals the branchy form for finite alpha and vectorizes (GCC does
  // not if-convert a conditional multiply under -ftrapping-math).
  template <typename T> T apply(T x) const { return std::max(x, T(0)) + static_cast<T>(alpha) * std::min(x, T(0)); }
  void f32(const float* a, float* b, int64_t n) const {
    scalarLoop(*this, a, b, n);
  }
};

struct Elu {
  float alpha;
  explicit Elu(const KernelContext& ctx) : alpha(ctx.attrFloat("alpha", 1.0f)) {}
  template <typename T> T apply(T x) const { return x < T(0) ? static_cast<T>(alpha) * std::expm1(x) : x; }
  void f32(const float* a, float* b, int64_t n) const {
    const float al = alpha;
    selectNegative(
        a, b, n, [al](const float* x, float* buf, int64_t len) { expm1Block(x, buf, len), ArrayMap(buf, len) *= al; },
        [](const ConstArrayMap& x) { return x; });
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
    const float al = alpha * gamma, g = gamma;
    selectNegative(
        a, b, n, [al](const float* x, float* buf, int64_t len) { expm1Block(x, buf, len), ArrayMap(buf, len) *= al; },
        [g](const ConstArrayMap& x) { return g * x; });
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
    alignas(64) float scaled[kBlock], em1[kBlock];
    for (int64_t begin = 0; begin < n; begin += kBlock) {
      const int64_t len = std::min(kBlock, n - begin);
      ConstArrayMap x(a + begin, len);
      ArrayMap(scaled, len) = x / alpha;
      expm1Block(scaled, em1, len);
      ArrayMap(b + begin, len) = x.max(0.0f) + (alpha * ArrayMap(em1, len)).min(0.0f);
    }
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
    scalarLoop(*this, a, b, n);
  }
};

struct HardSigmoid {
  float alpha, beta;
  explicit HardSigmoid(const KernelContext& ctx) : alpha(ctx.attrFloat("alpha", 0.2f)), beta(ctx.attrFloat("beta", 0.5f)) {}
  template <typename T> T apply(T x) const {
    return std::max(T(0), std::min(T(1), static_cast<T>(alpha) * x + static_cast<T>(beta)));
  }
  void f32(const float* a, float* b, int64_t n) const {
    scalarLoop(*this, a, b, n);
  }
};

struct HardSwish {
  explicit HardSwish(const KernelContext&) {}
  template <typename T> T apply(T x) const { return x * std::max(T(0), std::min(T(1), x / T(6) + T(0.5))); }
  void f32(const float* a, float* b, int64_t n) const {
    scalarLoop(*this, a, b, n);
  }
};

struct ThresholdedRelu {
  float alpha;
  explicit ThresholdedRelu(const KernelContext& ctx) : alpha(ctx.attrFloat("alpha", 1.0f)) {}
  template <typename T> T apply(T x) const { return x > static_cast<T>(alpha) ? x : T(0); }
  void f32(const float* a, float* b, int64_t n) const {
    scalarLoop(*this, a, b, n);
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
  // The textbook forms 0.5*x*(1+erf(x/sqrt2)) and 0.5*x*(1+tanh(z)) cancel in the negative tail:
  // we use 0.5*x*erfc(-x/sqrt2) and x/(1+exp(-2z)) instead, which keep relative accuracy.
  template <typename T> T apply(T x) const {
    if (tanh_form) return x / (T(1) + std::exp(T(-1.5957691216057308) * (x + T(0.044715) * x * x * x)));
    return T(0.5) * x * std::erfc(x * T(-0.7071067811865476));
  }
  void f32(const float* a, float* b, int64_t n) const {
    if (tanh_form) {
      for (int64_t begin = 0; begin < n; begin += kBlock) tanhForm(a + begin, b + begin, std::min(kBlock, n - begin));
      return;
    }
    for (int64_t begin = 0; begin < n; begin += kBlock) erfForm(a + begin, b + begin, std::min(kBlock, n - begin));
  }

 private:
  // x/(1+exp(w)), w = -2*sqrt(2/pi)*(x + 0.044715x^3). Where |w| is large, exp amplifies the
  // rounding of w, so w is formed in double and split as hi + lo: exp(w) = exp(hi)*(1 + lo).
  static void tanhForm(const float* a, float* b, int64_t n) {
    alignas(64) float w_hi[kBlock], w_lo[kBlock];
    for (int64_t i = 0; i < n; ++i) {
      const double x = a[i];
      const double w = -1.5957691216057308 * (x + 0.044715 * x * x * x);
      w_hi[i] = static_cast<float>(w);
      w_lo[i] = static_cast<float>(w - static_cast<double>(w_hi[i]));
    }
    ArrayMap(w_hi, n) = ArrayMap(w_hi, n).exp();
    ConstArrayMap x(a, n);
    ArrayMap(b, n) = x / (1.0f + ArrayMap(w_hi, n) * (1.0f + ArrayMap(w_lo, n)));
  }

  // x >= 0: 0.5*x*(1+erf(x/sqrt2)) with Eigen's erf. x < 0: 0.5*x*erfc(|x|/sqrt2) with erfc from
  // Numerical Recipes' erfcc, t*exp(-z^2 + P(t)) with t = 1/(1+z/2) (fractional error < 1.2e-7),
  // where z^2 = x^2/2 is split exactly with an FMA so exp(-z^2) does not amplify rounding.
  static void erfForm(const float* a, float* b, int64_t n) {
    alignas(64) float t[kBlock], e_hi[kBlock], e_rest[kBlock];
    for (int64_t i = 0; i < n; ++i) {
      const float x = a[i];
      const float z = std::fabs(x) * 0.70710678118654752f;
      const float u = 1.0f / (1.0f + 0.5f * z);
      const float hi = x * x, lo = std::fma(x, x, -hi);
      const float p = -1.26551223f + u * (1.00002368f + u * (0.37409196f + u * (0.09678418f + u * (-0.18628806f +
                      u * (0.27886807f + u * (-1.13520398f + u * (1.48851587f + u * (-0.82215223f + u * 0.17087277f))))))));
      t[i] = u;
      e_hi[i] = -0.5f * hi;
      e_rest[i] = p - 0.5f * lo;
    }
    ArrayMap(e_hi, n) = ArrayMap(e_hi, n).exp();
    ArrayMap(e_rest, n) = ArrayMap(e_rest, n).exp();
    ConstArrayMap x(a, n);
    ArrayMap(b, n) = 0.5f * x * (1.0f + (x * 0.70710678118654752f).erf());
    ArrayMap(t, n) = 0.5f * x * ArrayMap(t, n) * ArrayMap(e_hi, n) * ArrayMap(e_rest, n);
    for (int64_t i = 0; i < n; ++i) {  // merged by a plain select loop (Eigen 3.4's select is scalar)
      const float v = a[i], m = t[i], p = b[i];
      b[i] = v < 0.0f ? m : p;
    }
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
    auto out = ew::binary<T, T, T>(*x, *slope, x->dtype, [](T v, T s) {
      // Floats: the select-free form vectorizes (same values for finite slopes).
      if constexpr (std::is_floating_point_v<T>) return std::max(v, T(0)) + s * std::min(v, T(0));
      else return v < T(0) ? static_cast<T>(s * v) : v;
    });
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

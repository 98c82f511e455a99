// Normalization: BatchNormalization (opsets 1-21; inference, and training_mode=1 from 14 with
// running-stat outputs), InstanceNormalization (1-21), LayerNormalization (17-21, axis, optional
// Mean/InvStdDev outputs), GroupNormalization (18-21; scale/bias per group (18) or per channel
// (21), told apart by their length), LRN (1-21). float and double; statistics are accumulated in
// double so long rows do not lose precision. OpenMP over planes / rows.
#include <cmath>

#include "nn_common.h"
#include "parallel.h"

namespace nnc::ops {
namespace {

// Mean and biased variance of n values (two passes, double accumulation).
template <typename T>
void meanVar(const T* x, int64_t n, double* mean, double* var) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  const double m = n > 0 ? s / static_cast<double>(n) : 0.0;
  double v = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - m;
    v += d * d;
  }
  *mean = m;
  *var = n > 0 ? v / static_cast<double>(n) : 0.0;
}

// The values of a float input as double, checking its element count.
Expected<std::vector<double>> param(const KernelContext& ctx, size_t index, const std::string& name,
                                    const std::vector<int64_t>& allowed_counts) {
  NNC_ASSIGN_OR_RETURN(const Tensor* t, ctx.requiredInput(index));
  const int64_t n = t->elementCount();
  bool ok = false;
  for (int64_t c : allowed_counts) ok = ok || n == c;
  if (!ok) return ctx.fail(name + " has shape " + shapeToString(t->shape) + ", which does not match the input");
  auto v = readDoubles(*t, name);
  if (!v) return v.status().withContext(ctx.node().describe());
  return v;
}

Status batchNormalization(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (x->shape.size() < 2) return ctx.fail("input must be N x C x ..., got " + shapeToString(x->shape));
  const int64_t N = x->shape[0], C = x->shape[1], S = product(x->shape, 2);
  const double eps = ctx.attrFloat("epsilon", 1e-5f);
  const bool training = ctx.opset() >= 14 && ctx.attrInt("training_mode", 0) != 0;
  if (!training && ctx.outputCount() > 1)
    for (size_t i = 1; i < ctx.outputCount(); ++i)
      if (ctx.outputWanted(i)) return ctx.unsupportedHere("training outputs of BatchNormalization before opset 14 are not supported");
  // Per channel, or per (channel, position) for the old spatial=0 form.
  NNC_ASSIGN_OR_RETURN(std::vector<double> scale, param(ctx, 1, "scale", {C, C * S}));
  const int64_t F = static_cast<int64_t>(scale.size());
  NNC_ASSIGN_OR_RETURN(std::vector<double> bias, param(ctx, 2, "B", {F}));
  NNC_ASSIGN_OR_RETURN(std::vector<double> mean, param(ctx, 3, "input_mean", {F}));
  NNC_ASSIGN_OR_RETURN(std::vector<double> var, param(ctx, 4, "input_var", {F}));
  if (training && F != C) return ctx.fail("training mode needs per-channel parameters");
  std::vector<double> batch_mean, batch_var;
  if (training) {
    const double momentum = ctx.attrFloat("momentum", 0.9f);
    batch_mean.assign(C, 0.0);
    batch_var.assign(C, 0.0);
    bool ok = dispatchFloat(x->dtype, [&](auto zero) {
      using T = decltype(zero);
      const T* xd = x->dataAs<T>();
      NNC_PARALLEL_FOR_IF(N * C * S > kMinParallelWork,
        for (int64_t c = 0; c < C; ++c) {
          double s = 0, ss = 0;
          for (int64_t n = 0; n < N; ++n) {
            const T* p = xd + (n * C + c) * S;
            for (int64_t i = 0; i < S; ++i) s += p[i];
          }
          const double cnt = static_cast<double>(N * S);
          const double m = cnt > 0 ? s / cnt : 0;
          for (int64_t n = 0; n < N; ++n) {
            const T* p = xd + (n * C + c) * S;
            for (int64_t i = 0; i < S; ++i) ss += (p[i] - m) * (p[i] - m);
          }
          batch_mean[c] = m;
          batch_var[c] = cnt > 0 ? ss / cnt : 0;
        });
    });
    if (!ok) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
    for (int64_t c = 0; c < C; ++c) {
      const double rm = mean[c] * momentum + batch_mean[c] * (1 - momentum);
      const double rv = var[c] * momentum + batch_var[c] * (1 - momentum);
      mean[c] = batch_mean[c];
      var[c] = batch_var[c];
      batch_mean[c] = rm;
      batch_var[c] = rv;
    }
  }
  std::vector<double> a(F), b(F);
  for (int64_t f = 0; f < F; ++f) {
    a[f] = scale[f] / std::sqrt(var[f] + eps);
    b[f] = bias[f] - mean[f] * a[f];
  }
  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x->dtype, x->shape, &y);
    const T* xd = x->dataAs<T>();
    NNC_PARALLEL_FOR_IF(N * C * S > kMinParallelWork,
      for (int64_t p = 0; p < N * C; ++p) {
        const int64_t c = p % C;
        const T* xp = xd + p * S;
        T* yp = y + p * S;
        if (F == C) {
          const T ac = static_cast<T>(a[c]), bc = static_cast<T>(b[c]);
          for (int64_t i = 0; i < S; ++i) yp[i] = xp[i] * ac + bc;
        } else {
          for (int64_t i = 0; i < S; ++i) yp[i] = static_cast<T>(xp[i] * a[c * S + i] + b[c * S + i]);
        }
      });
    ctx.setOutput(0, std::move(out));
    if (training) {
      for (size_t o = 1; o < 3 && o < ctx.outputCount(); ++o) {
        const std::vector<double>& src = o == 1 ? batch_mean : batch_var;
        T* r = nullptr;
        Tensor t = allocate<T>(x->dtype, {C}, &r);
        for (int64_t c = 0; c < C; ++c) r[c] = static_cast<T>(src[c]);
        ctx.setOutput(o, std::move(t));
      }
    }
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  return Status::ok();
}

Status instanceNormalization(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (x->shape.size() < 3) return ctx.fail("input must be N x C x D1 ..., got " + shapeToString(x->shape));
  const int64_t N = x->shape[0], C = x->shape[1], S = product(x->shape, 2);
  NNC_ASSIGN_OR_RETURN(std::vector<double> scale, param(ctx, 1, "scale", {C}));
  NNC_ASSIGN_OR_RETURN(std::vector<double> bias, param(ctx, 2, "B", {C}));
  const double eps = ctx.attrFloat("epsilon", 1e-5f);
  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x->dtype, x->shape, &y);
    const T* xd = x->dataAs<T>();
    NNC_PARALLEL_FOR_IF(N * C * S > kMinParallelWork,
      for (int64_t p = 0; p < N * C; ++p) {
        const int64_t c = p % C;
        double m, v;
        meanVar(xd + p * S, S, &m, &v);
        const double a = scale[c] / std::sqrt(v + eps);
        const T ac = static_cast<T>(a), bc = static_cast<T>(bias[c] - m * a);
        const T* xp = xd + p * S;
        T* yp = y + p * S;
        for (int64_t i = 0; i < S; ++i) yp[i] = xp[i] * ac + bc;
      });
    ctx.setOutput(0, std::move(out));
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  return Status::ok();
}

// A Scale/B input of LayerNormalization broadcast to the normalized shape, as `cols` values.
Expected<std::vector<double>> expandToInner(const KernelContext& ctx, const Tensor& t, const std::vector<int64_t>& inner,
                                            const std::string& name) {
  auto shape = broadcastShapes({t.shape, inner});
  if (!shape || *shape != inner)
    return ctx.fail(name + " shape " + shapeToString(t.shape) + " does not broadcast to " + shapeToString(inner));
  auto v = readDoubles(t, name);
  if (!v) return v.status().withContext(ctx.node().describe());
  const int64_t cols = product(inner);
  if (static_cast<int64_t>(v->size()) == cols) return v;
  std::vector<double> out(static_cast<size_t>(cols));
  std::array<std::vector<int64_t>, 1> strides{broadcastStrides(t.shape, inner)};
  forEachBroadcast<1>(inner, strides, [&](int64_t i, const std::array<int64_t, 1>& off) { out[i] = (*v)[off[0]]; });
  return out;
}

Status layerNormalization(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* scale_t, ctx.requiredInput(1));
  const Tensor* bias_t = ctx.input(2);
  const int64_t rank = static_cast<int64_t>(x->shape.size());
  auto axis = normalizeAxis(ctx.attrInt("axis", -1), rank);
  if (!axis) return axis.status().withContext(ctx.node().describe());
  const std::vector<int64_t> inner(x->shape.begin() + *axis, x->shape.end());
  const int64_t rows = product(x->shape, 0, static_cast<size_t>(*axis)), cols = product(inner);
  NNC_ASSIGN_OR_RETURN(std::vector<double> scale, expandToInner(ctx, *scale_t, inner, "Scale"));
  std::vector<double> bias;
  if (bias_t) {
    NNC_ASSIGN_OR_RETURN(bias, expandToInner(ctx, *bias_t, inner, "B"));
  }
  const double eps = ctx.attrFloat("epsilon", 1e-5f);
  std::vector<int64_t> stat_shape(x->shape.begin(), x->shape.begin() + *axis);
  stat_shape.resize(static_cast<size_t>(rank), 1);
  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x->dtype, x->shape, &y);
    T* mean_out = nullptr;
    T* inv_out = nullptr;
    if (ctx.outputCount() > 1 && ctx.outputWanted(1)) ctx.setOutput(1, allocate<T>(x->dtype, stat_shape, &mean_out));
    if (ctx.outputCount() > 2 && ctx.outputWanted(2)) ctx.setOutput(2, allocate<T>(x->dtype, stat_shape, &inv_out));
    const T* xd = x->dataAs<T>();
    std::vector<T> sc(scale.begin(), scale.end()), bi(bias.begin(), bias.end());
    NNC_PARALLEL_FOR_IF(rows * cols > kMinParallelWork,
      for (int64_t r = 0; r < rows; ++r) {
        double m, v;
        meanVar(xd + r * cols, cols, &m, &v);
        const double inv = 1.0 / std::sqrt(v + eps);
        const T mt = static_cast<T>(m), it = static_cast<T>(inv);
        const T* xp = xd + r * cols;
        T* yp = y + r * cols;
        if (bi.empty()) {
          for (int64_t i = 0; i < cols; ++i) yp[i] = (xp[i] - mt) * it * sc[i];
        } else {
          for (int64_t i = 0; i < cols; ++i) yp[i] = (xp[i] - mt) * it * sc[i] + bi[i];
        }
        if (mean_out) mean_out[r] = mt;
        if (inv_out) inv_out[r] = it;
      });
    ctx.setOutput(0, std::move(out));
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  return Status::ok();
}

Status groupNormalization(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (x->shape.size() < 2) return ctx.fail("input must be N x C x ..., got " + shapeToString(x->shape));
  const int64_t N = x->shape[0], C = x->shape[1], S = product(x->shape, 2);
  const int64_t G = ctx.attrInt("num_groups", 0);
  if (G <= 0 || C % G != 0) return ctx.fail("num_groups " + std::to_string(G) + " must divide the channel count " + std::to_string(C));
  // Opset 18: one scale/bias per group; opset 21: per channel (same thing when G == C).
  NNC_ASSIGN_OR_RETURN(std::vector<double> scale, param(ctx, 1, "scale", {G, C}));
  NNC_ASSIGN_OR_RETURN(std::vector<double> bias, param(ctx, 2, "bias", {static_cast<int64_t>(scale.size())}));
  const bool per_channel = static_cast<int64_t>(scale.size()) == C;
  const double eps = ctx.attrFloat("epsilon", 1e-5f);
  const int64_t Cg = C / G, group_size = Cg * S;
  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x->dtype, x->shape, &y);
    const T* xd = x->dataAs<T>();
    NNC_PARALLEL_FOR_IF(N * C * S > kMinParallelWork,
      for (int64_t ng = 0; ng < N * G; ++ng) {
        const int64_t grp = ng % G;
        double m, v;
        meanVar(xd + ng * group_size, group_size, &m, &v);
        const double inv = 1.0 / std::sqrt(v + eps);
        for (int64_t cc = 0; cc < Cg; ++cc) {
          const int64_t k = per_channel ? grp * Cg + cc : grp;
          const double a = scale[k] * inv;
          const T ac = static_cast<T>(a), bc = static_cast<T>(bias[k] - m * a);
          const T* xp = xd + ng * group_size + cc * S;
          T* yp = y + ng * group_size + cc * S;
          for (int64_t i = 0; i < S; ++i) yp[i] = xp[i] * ac + bc;
        }
      });
    ctx.setOutput(0, std::move(out));
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  return Status::ok();
}

Status lrn(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (x->shape.size() < 2) return ctx.fail("input must be N x C x ..., got " + shapeToString(x->shape));
  const int64_t size = ctx.attrInt("size", 0);
  if (size <= 0) return ctx.fail("size must be positive");
  const double alpha = ctx.attrFloat("alpha", 1e-4f), beta = ctx.attrFloat("beta", 0.75f), bias = ctx.attrFloat("bias", 1.0f);
  const int64_t N = x->shape[0], C = x->shape[1], S = product(x->shape, 2);
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x->dtype, x->shape, &y);
    const T* xd = x->dataAs<T>();
    NNC_PARALLEL_FOR_IF(N * C * S * size > kMinParallelWork,
      for (int64_t p = 0; p < N * C; ++p) {
        const int64_t n = p / C, c = p % C;
        const int64_t c0 = std::max<int64_t>(0, c - before), c1 = std::min<int64_t>(C - 1, c + after);
        const T* xp = xd + p * S;
        T* yp = y + p * S;
        for (int64_t i = 0; i < S; ++i) {
          double sq = 0;
          for (int64_t k = c0; k <= c1; ++k) {
            const double v = xd[(n * C + k) * S + i];
            sq += v * v;
          }
          yp[i] = static_cast<T>(xp[i] / std::pow(bias + alpha / static_cast<double>(size) * sq, beta));
        }
      });
    ctx.setOutput(0, std::move(out));
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  return Status::ok();
}

}  // namespace

void registerNormalizationOps(OpRegistry& registry) {
  registry.add({"", "BatchNormalization", 1, 1000, batchNormalization});
  registry.add({"", "InstanceNormalization", 1, 1000, instanceNormalization});
  registry.add({"", "LayerNormalization", 17, 1000, layerNormalization});
  registry.add({"", "GroupNormalization", 18, 1000, groupNormalization});
  registry.add({"", "LRN", 1, 1000, lrn});
}

}  // namespace nnc::ops

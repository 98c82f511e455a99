// QuantizeLinear / DequantizeLinear (opsets 10-21: per-tensor; per-axis from
// 13; block-wise, int16/uint16/int4/uint4 and output_dtype from 21) and
// DynamicQuantizeLinear (11, uint8). Rounding and saturation follow ONNX
// Runtime (MLAS): y = clamp(nearbyint(x / scale)) + zp in the default rounding
// mode (half to even); dequantization is float(x - zp) * scale.
// float16/bfloat16 x or scales are computed in float32 by the session. float8
// is not supported.
#include <algorithm>
#include <limits>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "quant_util.h"
#include "parallel.h"

namespace nnc::ops {
namespace {

// How scale/zero-point elements map onto x: per tensor, per axis, or per block
// along an axis.
struct ParamMap {
  int64_t outer = 1, dim = 1, inner = 1;  // x viewed as [outer, dim, inner]
  int64_t block = 0;                      // > 0: block-wise with blocks of `block` along dim
  bool per_axis = false;
  int64_t blocks() const { return (dim + block - 1) / block; }
  // The parameter index of x element (o, d, i).
  int64_t index(int64_t o, int64_t d, int64_t i) const {
    if (block > 0) return (o * blocks() + d / block) * inner + i;
    return per_axis ? d : 0;
  }
};

Expected<ParamMap> paramMap(const KernelContext& ctx, const Tensor& x, const Tensor& scale, const Tensor* zp) {
  ParamMap map;
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  const int64_t block = ctx.opset() >= 21 ? ctx.attrInt("block_size", 0) : 0;
  if (block < 0) return invalidModel("block_size must not be negative");
  if (zp && zp->shape != scale.shape)
    return invalidModel("zero point shape " + shapeToString(zp->shape) + " differs from scale shape " +
                        shapeToString(scale.shape));
  const bool scalar = scale.shape.empty() || (scale.shape.size() == 1 && scale.shape[0] == 1 && block == 0);
  if (scalar && block == 0) {
    map.inner = x.elementCount();
    return map;
  }
  auto axis = normalizeAxis(ctx.attrInt("axis", 1), rank);
  if (!axis) return axis.status();
  map.outer = product(x.shape, 0, static_cast<size_t>(*axis));
  map.dim = x.shape[static_cast<size_t>(*axis)];
  map.inner = product(x.shape, static_cast<size_t>(*axis) + 1);
  if (block == 0) {
    if (scale.shape.size() != 1 || scale.shape[0] != map.dim)
      return invalidModel("per-axis scale of shape " + shapeToString(scale.shape) + " does not match dimension " +
                          std::to_string(map.dim) + " of the input along axis " + std::to_string(*axis));
    map.per_axis = true;
    return map;
  }
  map.block = block;
  std::vector<int64_t> expected = x.shape;
  expected[static_cast<size_t>(*axis)] = map.blocks();
  if (scale.shape != expected)
    return invalidModel("block-wise scale of shape " + shapeToString(scale.shape) + " should be " +
                        shapeToString(expected) + " for block_size " + std::to_string(block));
  return map;
}

// Runs fn(x_index, param_index) over every element, in parallel when large.
template <typename F>
void forEachElement(const ParamMap& map, F&& fn) {
  const int64_t rows = map.outer * map.dim;
#pragma omp parallel for if (rows * map.inner > kMinParallelWork)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / map.dim, d = r % map.dim;
    const int64_t base = r * map.inner;
    if (map.block == 0) {
      const int64_t p = map.index(o, d, 0);
      for (int64_t i = 0; i < map.inner; ++i) fn(base + i, p);
    } else {
      for (int64_t i = 0; i < map.inner; ++i) fn(base + i, map.index(o, d, i));
    }
  }
}

// ---- QuantizeLinear
// -----------------------------------------------------------------------
#if defined(__x86_64__) || defined(__i386__)
// quantizeOne over a run of floats with one scale and zero point, 8 at a time: the same division,
// clamp (max(v, lo) gives lo for NaN), rounding (cvtps in the default mode: half to even) and
// zero point, so the bytes are those of the scalar loop. Returns how many elements it did.
template <typename Q>
__attribute__((target("avx2"))) int64_t quantizeRunAvx2(const float* x, int64_t n, float scale, int32_t z, float lo,
                                                        float hi, Q* y) {
  const __m256 s = _mm256_set1_ps(scale), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256i vz = _mm256_set1_epi32(z);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
    v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), vz);  // in the type's range: packs don't saturate
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i b = std::is_signed_v<Q> ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), b);
  }
  return i;
}
#endif

template <typename X, typename Q>
void quantizeLoop(const ParamMap& map, const X* x, const float* scale, const int32_t* zp, float lo, float hi, Q* y) {
#if defined(__x86_64__) || defined(__i386__)
  // Float to 8 bits per tensor or per axis (QDQ models' activations): whole rows at a time.
  if constexpr (std::is_same_v<X, float> && sizeof(Q) == 1) {
    if (map.block == 0 && __builtin_cpu_supports("avx2")) {
      const int64_t rows = map.outer * map.dim;
      parallelFor(rows, map.inner, [&](int64_t r) {
        const int64_t p = map.index(r / map.dim, r % map.dim, 0), base = r * map.inner;
        const int32_t z = zp[p];
        const int64_t done = quantizeRunAvx2(x + base, map.inner, scale[p], z, lo - z, hi - z, y + base);
        for (int64_t i = base + done; i < base + map.inner; ++i)
          y[i] = static_cast<Q>(quantizeOne(x[i], scale[p], z, lo - z, hi - z));
      });
      return;
    }
  }
#endif
  // lo/hi are the type range; relative to each zero point below.
  forEachElement(map, [&](int64_t i, int64_t p) {
    const int32_t z = zp[p];
    y[i] = static_cast<Q>(quantizeOne(static_cast<float>(x[i]), scale[p], z, lo - z, hi - z));
  });
}

Status quantizeLinear(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* scale_t, ctx.requiredInput(1));
  const Tensor* zp_t = ctx.input(2);
  DType out_type = DType::kUInt8;
  if (zp_t) out_type = zp_t->dtype;
  if (ctx.opset() >= 21 && ctx.attrInt("output_dtype", 0) != 0) {
    auto attr = dtypeFromOnnx(static_cast<int32_t>(ctx.attrInt("output_dtype", 0)));
    if (!attr)
      return ctx.fail("output_dtype " + std::to_string(ctx.attrInt("output_dtype", 0)) + " is not a known type");
    if (zp_t && *attr != zp_t->dtype) return ctx.fail("output_dtype differs from the zero point's type");
    out_type = *attr;
  }
  int32_t lo = 0, hi = 0;
  if (!quantRange(out_type, &lo, &hi))
    return ctx.unsupportedHere("quantizing to " + dtypeName(out_type) + " is not supported");
  if (x->dtype != DType::kFloat && x->dtype != DType::kInt32 && x->dtype != DType::kDouble)
    return ctx.unsupportedHere("input type " + dtypeName(x->dtype) + " is not supported");
  auto map = paramMap(ctx, *x, *scale_t, zp_t);
  if (!map) return map.status().withContext(ctx.node().describe());
  auto scale = floatElements(*scale_t, "y_scale");
  if (!scale) return scale.status().withContext(ctx.node().describe());
  std::vector<int32_t> zp = zp_t ? intElements(*zp_t) : std::vector<int32_t>(scale->size(), 0);
  const int64_t n = x->elementCount();
  const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
  auto run = [&](auto* y) {
    if (x->dtype == DType::kFloat)
      quantizeLoop(*map, x->dataAs<float>(), scale->data(), zp.data(), flo, fhi, y);
    else if (x->dtype == DType::kInt32)
      quantizeLoop(*map, x->dataAs<int32_t>(), scale->data(), zp.data(), flo, fhi, y);
    else
      quantizeLoop(*map, x->dataAs<double>(), scale->data(), zp.data(), flo, fhi, y);
  };
  if (out_type == DType::kInt4 || out_type == DType::kUInt4) {
    std::vector<int8_t> tmp(static_cast<size_t>(n));
    run(tmp.data());
    ctx.setOutput(0, packInt4(out_type, x->shape, tmp.data(), n));
    return Status::ok();
  }
  dispatchNumeric(out_type, [&](auto zero) {
    using Q = decltype(zero);
    if constexpr (std::is_integral_v<Q> && sizeof(Q) <= 2) {
      Q* y = nullptr;
      Tensor out = allocate<Q>(out_type, x->shape, &y);
      run(y);
      ctx.setOutput(0, std::move(out));
    }
  });
  return Status::ok();
}

// ---- DequantizeLinear
// ---------------------------------------------------------------------
template <typename Q>
void dequantizeLoop(const ParamMap& map, const Q* x, const float* scale, const int32_t* zp, float* y) {
  forEachElement(
      map, [&](int64_t i, int64_t p) { y[i] = static_cast<float>(static_cast<int64_t>(x[i]) - zp[p]) * scale[p]; });
}

Status dequantizeLinear(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* scale_t, ctx.requiredInput(1));
  const Tensor* zp_t = ctx.input(2);
  int32_t lo = 0, hi = 0;
  if (!quantRange(x->dtype, &lo, &hi) && x->dtype != DType::kInt32)
    return ctx.unsupportedHere("dequantizing " + dtypeName(x->dtype) + " is not supported");
  if (zp_t && zp_t->dtype != x->dtype) return ctx.fail("zero point type differs from the input type");
  auto map = paramMap(ctx, *x, *scale_t, zp_t);
  if (!map) return map.status().withContext(ctx.node().describe());
  auto scale = floatElements(*scale_t, "x_scale");
  if (!scale) return scale.status().withContext(ctx.node().describe());
  std::vector<int32_t> zp = zp_t ? intElements(*zp_t) : std::vector<int32_t>(scale->size(), 0);
  if (x->dtype == DType::kInt32 && std::any_of(zp.begin(), zp.end(), [](int32_t z) { return z != 0; }))
    return ctx.fail("an int32 input needs a zero point of 0");
  float* y = nullptr;
  Tensor out = allocate<float>(DType::kFloat, x->shape, &y);
  const int64_t n = x->elementCount();
  if (x->dtype == DType::kInt4 || x->dtype == DType::kUInt4) {
    std::vector<int8_t> tmp(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) tmp[static_cast<size_t>(i)] = static_cast<int8_t>(intElement(*x, i));
    dequantizeLoop(*map, tmp.data(), scale->data(), zp.data(), y);
  } else {
    dispatchNumeric(x->dtype, [&](auto zero) {
      using Q = decltype(zero);
      if constexpr (std::is_integral_v<Q> && sizeof(Q) <= 4)
        dequantizeLoop(*map, x->dataAs<Q>(), scale->data(), zp.data(), y);
    });
  }
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

// ---- DynamicQuantizeLinear
// ----------------------------------------------------------------
Status dynamicQuantizeLinear(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (x->dtype != DType::kFloat) return ctx.unsupportedHere("input type " + dtypeName(x->dtype) + " is not supported");
  const float* px = x->dataAs<float>();
  const int64_t n = x->elementCount();
  float mn = std::numeric_limits<float>::max(), mx = std::numeric_limits<float>::lowest();
#pragma omp parallel for reduction(min : mn) reduction(max : mx) if (n > kMinParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, px[i]);
    mx = std::max(mx, px[i]);
  }
  // The range always holds 0 (ORT's GetQuantizationParameter), so 0 is exactly
  // representable.
  mn = std::min(mn, 0.0f);
  mx = std::max(mx, 0.0f);
  const float scale = mx == mn ? 1.0f : (mx - mn) / 255.0f;
  const float initial_zp = 0.0f - mn / scale;
  const int32_t zp = static_cast<int32_t>(std::nearbyint(std::max(0.0f, std::min(255.0f, initial_zp))));
  uint8_t* y = nullptr;
  Tensor out = allocate<uint8_t>(DType::kUInt8, x->shape, &y);
  const float lo = static_cast<float>(-zp), hi = static_cast<float>(255 - zp);
#pragma omp parallel for if (n > kMinParallelWork)
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<uint8_t>(quantizeOne(px[i], scale, zp, lo, hi));
  ctx.setOutput(0, std::move(out));
  ctx.setOutput(1, Tensor::fromValues<float>(DType::kFloat, {}, {scale}));
  ctx.setOutput(2, Tensor::fromValues<uint8_t>(DType::kUInt8, {}, {static_cast<uint8_t>(zp)}));
  return Status::ok();
}

}  // namespace

void registerQuantizeLinearOps(OpRegistry& registry) {
  // Opset 23 adds attributes (precision, DequantizeLinear output_dtype) not
  // implemented here.
  registry.add({"", "QuantizeLinear", 10, 22, quantizeLinear});
  registry.add({"", "DequantizeLinear", 10, 22, dequantizeLinear});
  registry.add({"", "DynamicQuantizeLinear", 11, 1000, dynamicQuantizeLinear});
}

}  // namespace nnc::ops

// QdqBinary, the session's fused step for DequantizeLinear(a), DequantizeLinear(b) -> Add / Mul
// [-> QuantizeLinear] groups that ONNX Runtime's QLinearAdd / QLinearMul don't cover (inputs of
// different 8-bit types, such as an int8 bias plus uint8 activations, or a float output): one
// pass computing exactly what the float ops compute (float(x - zp) * scale per input, the float
// Add or Mul, then QuantizeLinear's rounding), without the intermediate float tensors.
// Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point[, y_scale, y_zero_point];
// attribute "mul" (0: Add, 1: Mul). Scales and zero points are scalars (the fusion checks).
#include <algorithm>
#include <array>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "parallel.h"
#include "qdq_ops.h"
#include "quant_util.h"

namespace nnc::ops {
namespace {

struct Dequant {
  float scale = 1;
  int32_t zp = 0;
};

Expected<Dequant> dequantParams(const KernelContext& ctx, size_t si, size_t zi) {
  const Tensor* s = ctx.input(si);
  if (s == nullptr || s->elementCount() != 1) return ctx.fail("scale input " + std::to_string(si) + " must be a scalar");
  NNC_ASSIGN_OR_RETURN(std::vector<float> v, floatElements(*s, "scale"));
  Dequant d{v[0], 0};
  if (const Tensor* z = ctx.input(zi)) {
    if (z->elementCount() != 1) return ctx.fail("zero point input " + std::to_string(zi) + " must be a scalar");
    d.zp = intElement(*z, 0);
  }
  return d;
}

// x as the float DequantizeLinear gives (its formula, quantize_linear.cpp).
template <typename T>
inline float dequantize(T x, const Dequant& d) {
  return static_cast<float>(static_cast<int64_t>(x) - d.zp) * d.scale;
}

#if defined(__x86_64__) || defined(__i386__)
template <typename T>
__attribute__((target("avx2"))) inline __m256 dequantize8(const T* p, __m256i zp, __m256 scale) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  const __m256i w = std::is_signed_v<T> ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(w, zp)), scale);
}

// One row of n elements, 8 at a time, with the scalar code's operations in the same order
// (dequantize, add or multiply, divide by y_scale, clamp, round half to even, + zp); a side with
// a single element (step 0) is broadcast. Returns how many elements it did.
template <typename A, typename B, typename Y>
__attribute__((target("avx2"))) int64_t rowAvx2(const A* a, int64_t a_step, const B* b, int64_t b_step, int64_t n,
                                                const Dequant& da, const Dequant& db, const Dequant& dy, bool mul,
                                                float lo, float hi, Y* y) {
  const __m256i za = _mm256_set1_epi32(da.zp), zb = _mm256_set1_epi32(db.zp), zy = _mm256_set1_epi32(dy.zp);
  const __m256 sa = _mm256_set1_ps(da.scale), sb = _mm256_set1_ps(db.scale), sy = _mm256_set1_ps(dy.scale);
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256 a_one = _mm256_set1_ps(static_cast<float>(static_cast<int64_t>(a[0]) - da.zp) * da.scale);
  const __m256 b_one = _mm256_set1_ps(static_cast<float>(static_cast<int64_t>(b[0]) - db.zp) * db.scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 fa = a_step ? dequantize8(a + i, za, sa) : a_one;
    const __m256 fb = b_step ? dequantize8(b + i, zb, sb) : b_one;
    const __m256 v = mul ? _mm256_mul_ps(fa, fb) : _mm256_add_ps(fa, fb);
    if constexpr (std::is_same_v<Y, float>) {
      _mm256_storeu_ps(y + i, v);
    } else {
      const __m256 c = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(v, sy), vlo), vhi);
      const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(c), zy);
      const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), std::is_signed_v<Y> ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w));
    }
  }
  return i;
}
#endif

// The row step: AVX2 when the CPU has it, then the scalar fn for the rest.
struct RowParams {
  Dequant da, db, dy;
  bool mul = false;
  float lo = 0, hi = 0;
};

template <typename A, typename B, typename Y, typename F>
void row(const A* a, bool a_full, const B* b, bool b_full, int64_t n, const RowParams& p, Y* y, F& fn) {
  int64_t done = 0;
#if defined(__x86_64__) || defined(__i386__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) done = rowAvx2(a, a_full ? 1 : 0, b, b_full ? 1 : 0, n, p.da, p.db, p.dy, p.mul, p.lo, p.hi, y);
#endif
  for (int64_t j = done; j < n; ++j) y[j] = fn(a[a_full ? j : 0], b[b_full ? j : 0]);
}

template <typename A, typename B, typename Y, typename F>
void combine(const Tensor& a, const Tensor& b, const std::vector<int64_t>& shape, const RowParams& p, Y* y, F&& fn) {
  const A* pa = a.dataAs<A>();
  const B* pb = b.dataAs<B>();
  const int64_t n = product(shape), na = a.elementCount(), nb = b.elementCount();
  if (na == n && nb == n) {
    parallelFor((n + 4095) / 4096, 4096, [&](int64_t blk) {
      const int64_t begin = blk * 4096;
      row(pa + begin, true, pb + begin, true, std::min<int64_t>(4096, n - begin), p, y + begin, fn);
    });
    return;
  }
  // One side repeating along the trailing dims (a bias [C] against [N, T, C]) or a scalar: i % n.
  auto repeats = [&](const Tensor& t) {
    const int64_t nt = t.elementCount();
    if (nt == 1) return true;
    std::vector<int64_t> tail(t.shape.begin(), t.shape.end());
    while (!tail.empty() && tail.front() == 1) tail.erase(tail.begin());
    return tail.size() <= shape.size() && std::equal(tail.begin(), tail.end(), shape.end() - static_cast<long>(tail.size()));
  };
  // Rows of the repeating side's length: no index arithmetic per element.
  if ((na == n && repeats(b)) || (nb == n && repeats(a))) {
    const int64_t other = na == n ? nb : na, period = other == 1 ? n : other, rows = n / period;
    parallelFor(rows, period, [&](int64_t r) {
      const A* ra = na == n ? pa + r * period : pa;
      const B* rb = nb == n ? pb + r * period : pb;
      row(ra, na != 1, rb, nb != 1, period, p, y + r * period, fn);
    });
    return;
  }
  // Anything else (per-channel [1, C, 1, 1] scales, ...): rows along the last dim, where each side
  // is either contiguous (stride 1) or one repeated element (stride 0).
  std::array<std::vector<int64_t>, 2> strides{broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)};
  if (shape.empty()) {
    y[0] = fn(pa[0], pb[0]);
    return;
  }
  const int64_t inner = shape.back();
  const bool a_full = strides[0].back() == 1, b_full = strides[1].back() == 1;
  std::array<std::vector<int64_t>, 2> outer_strides{
      std::vector<int64_t>(strides[0].begin(), strides[0].end() - 1),
      std::vector<int64_t>(strides[1].begin(), strides[1].end() - 1)};
  const std::vector<int64_t> outer(shape.begin(), shape.end() - 1);
  forEachBroadcast<2>(outer, outer_strides, [&](int64_t r, const std::array<int64_t, 2>& off) {
    row(pa + off[0], a_full, pb + off[1], b_full, inner, p, y + r * inner, fn);
  });
}

}  // namespace

Status qdqBinary(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b, ctx.requiredInput(3));
  auto is8 = [](DType t) { return t == DType::kUInt8 || t == DType::kInt8; };
  if (!is8(a->dtype) || !is8(b->dtype)) return ctx.fail("inputs must be uint8 or int8");
  NNC_ASSIGN_OR_RETURN(Dequant da, dequantParams(ctx, 1, 2));
  NNC_ASSIGN_OR_RETURN(Dequant db, dequantParams(ctx, 4, 5));
  auto shape = broadcastShapes({a->shape, b->shape});
  if (!shape) return shape.status().withContext(ctx.node().describe());
  const bool mul = ctx.attrInt("mul", 0) != 0;
  const bool quantized = ctx.input(6) != nullptr;
  Dequant dy;
  DType out_type = DType::kFloat;
  int32_t lo = 0, hi = 0;
  if (quantized) {
    NNC_ASSIGN_OR_RETURN(dy, dequantParams(ctx, 6, 7));
    out_type = ctx.input(7) ? ctx.input(7)->dtype : DType::kUInt8;
    if (!is8(out_type)) return ctx.unsupportedHere("output type " + dtypeName(out_type));
    quantRange(out_type, &lo, &hi);
  }
  const float flo = static_cast<float>(lo - dy.zp), fhi = static_cast<float>(hi - dy.zp);
  auto run = [&](auto a_zero, auto b_zero, auto y_zero) {
    using A = decltype(a_zero);
    using B = decltype(b_zero);
    using Y = decltype(y_zero);
    Y* y = nullptr;
    Tensor out = allocate<Y>(out_type, *shape, &y);
    const RowParams params{da, db, dy, mul, flo, fhi};
    combine<A, B, Y>(*a, *b, *shape, params, y, [&](A x, B z) {
      const float fx = dequantize(x, da), fz = dequantize(z, db);
      const float v = mul ? fx * fz : fx + fz;
      if constexpr (std::is_same_v<Y, float>)
        return v;
      else
        return static_cast<Y>(quantizeOne(v, dy.scale, dy.zp, flo, fhi));
    });
    ctx.setOutput(0, std::move(out));
  };
  auto with_b = [&](auto a_zero, auto y_zero) {
    if (b->dtype == DType::kUInt8)
      run(a_zero, uint8_t{}, y_zero);
    else
      run(a_zero, int8_t{}, y_zero);
  };
  auto with_a = [&](auto y_zero) {
    if (a->dtype == DType::kUInt8)
      with_b(uint8_t{}, y_zero);
    else
      with_b(int8_t{}, y_zero);
  };
  if (out_type == DType::kFloat)
    with_a(float{});
  else if (out_type == DType::kUInt8)
    with_a(uint8_t{});
  else
    with_a(int8_t{});
  return Status::ok();
}

}  // namespace nnc::ops

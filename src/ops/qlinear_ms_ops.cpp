// ONNX Runtime's quantized contrib ops (domain com.microsoft, since_version 1), computed as
// MLAS does on x86 (checked bit-exact against ORT 1.30 on AVX2): QLinearAdd (scale ratios and
// FMAs as MLAS's AVX2 kernel), QLinearMul (exact int product, one float scale), QLinearGlobalAveragePool
// (int32 sums requantized by x_scale / (y_scale * image size)), QLinearConcat (inputs with
// other scales requantized through float). uint8 and int8 data; scales and zero points scalar.
#include <algorithm>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NNC_QADD_X86 1
#endif

#include "qgemm.h"
#include "quant_util.h"
#include "parallel.h"

namespace nnc::ops {
namespace {

struct QParams {
  float scale = 1.0f;
  int32_t zp = 0;
};

// A (scale, zero point) pair from inputs si, zi (zero point optional: 0).
Expected<QParams> qparams(const KernelContext& ctx, size_t si, size_t zi, DType data_type) {
  const Tensor* s = ctx.input(si);
  if (!s || s->elementCount() != 1) return unsupported("input " + std::to_string(si) + " must be a scalar scale");
  auto v = floatElements(*s, "scale");
  if (!v) return v.status();
  QParams p{(*v)[0], 0};
  if (const Tensor* z = ctx.input(zi)) {
    if (z->elementCount() != 1) return unsupported("input " + std::to_string(zi) + " must be a scalar zero point");
    if (z->dtype != data_type) return invalidModel("zero point type differs from its data's");
    p.zp = intElement(*z, 0);
  }
  return p;
}

bool is8Bit(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

// Calls fn(T{}) with T = uint8_t or int8_t.
template <typename F>
void dispatch8(DType t, F&& fn) {
  if (t == DType::kUInt8)
    fn(uint8_t{});
  else
    fn(int8_t{});
}

#ifdef NNC_QADD_X86
// QLinearAdd's element step for equal shapes, 8 at a time: saturate(round(fma(a, ra, fma(b, rb,
// fixed)))) with the rounding of cvtps (half to even, like nearbyint) and the same FMAs as the
// scalar code. Returns how many elements it did.
template <typename T>
__attribute__((target("avx2,fma"))) int64_t addRunAvx2(const T* a, const T* b, int64_t n, float ra, float rb,
                                                       float fixed, int32_t lo, int32_t hi, T* y) {
  const __m256 vra = _mm256_set1_ps(ra), vrb = _mm256_set1_ps(rb), vf = _mm256_set1_ps(fixed);
  const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i xa = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(a + i));
    const __m128i xb = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + i));
    const __m256 fa = _mm256_cvtepi32_ps(std::is_signed_v<T> ? _mm256_cvtepi8_epi32(xa) : _mm256_cvtepu8_epi32(xa));
    const __m256 fb = _mm256_cvtepi32_ps(std::is_signed_v<T> ? _mm256_cvtepi8_epi32(xb) : _mm256_cvtepu8_epi32(xb));
    const __m256 v = _mm256_fmadd_ps(fa, vra, _mm256_fmadd_ps(fb, vrb, vf));
    const __m256i q = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(v), vlo), vhi);
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), std::is_signed_v<T> ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w));
  }
  return i;
}
#endif

template <bool kMul>
Status qlinearBinary(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b, ctx.requiredInput(3));
  if (!is8Bit(a->dtype) || a->dtype != b->dtype) return ctx.unsupportedHere("inputs must both be uint8 or int8");
  auto pa = qparams(ctx, 1, 2, a->dtype);
  auto pb = qparams(ctx, 4, 5, b->dtype);
  auto pc = qparams(ctx, 6, 7, a->dtype);
  for (const Status* s : {&pa.status(), &pb.status(), &pc.status()})
    if (!s->isOk()) return s->withContext(ctx.node().describe());
  int32_t lo = 0, hi = 0;
  quantRange(a->dtype, &lo, &hi);
  Status status;
  const int64_t na = a->elementCount(), nb = b->elementCount();
  dispatch8(a->dtype, [&](auto zero) {
    using T = decltype(zero);
    auto saturate = [&](float v) {
      return static_cast<T>(std::clamp(static_cast<int32_t>(std::nearbyint(v)), lo, hi));
    };
    Expected<Tensor> out = invalidModel("");
    if constexpr (kMul) {
      // MLAS (SSE2): exact int32 product, then * (sa * sb / sc) + zc in float, round half even.
      const float ratio = pa->scale * pb->scale / pc->scale, zc = static_cast<float>(pc->zp);
      out = binaryBroadcast<T, T>(*a, *b, a->dtype, [&](T x, T y) {
        const float prod = static_cast<float>((x - pa->zp) * (y - pb->zp));
        return saturate(prod * ratio + zc);
      });
    } else {
      // MLAS (AVX2): fixed = zc - (rA * za + rB * zb), then fma(b, rB, fixed), fma(a, rA, .); a
      // scalar operand is folded into `fixed` with a separate multiply and add.
      const float ra = pa->scale / pc->scale, rb = pb->scale / pc->scale;
      const float fixed =
          static_cast<float>(pc->zp) - (ra * static_cast<float>(pa->zp) + rb * static_cast<float>(pb->zp));
#ifdef NNC_QADD_X86
      if (a->shape == b->shape && __builtin_cpu_supports("avx2")) {
        // Same shapes (the residual adds of QDQ CNNs): 8 elements at a time, the same FMAs.
        T* y = nullptr;
        Tensor t = allocate<T>(a->dtype, a->shape, &y);
        const T* pa_ = a->dataAs<T>();
        const T* pb_ = b->dataAs<T>();
        parallelFor((na + 4095) / 4096, 4096, [&](int64_t blk) {
          const int64_t begin = blk * 4096, end = std::min(na, begin + 4096);
          const int64_t done = begin + addRunAvx2(pa_ + begin, pb_ + begin, end - begin, ra, rb, fixed, lo, hi, y + begin);
          for (int64_t i = done; i < end; ++i)
            y[i] = saturate(std::fma(static_cast<float>(pa_[i]), ra, std::fma(static_cast<float>(pb_[i]), rb, fixed)));
        });
        ctx.setOutput(0, std::move(t));
        return;
      }
#endif
      out = binaryBroadcast<T, T>(*a, *b, a->dtype, [&](T x, T y) {
        const float fx = static_cast<float>(x), fy = static_cast<float>(y);
        if (na == 1 && nb != 1) return saturate(std::fma(fy, rb, fixed + fx * ra));
        if (nb == 1 && na != 1) return saturate(std::fma(fx, ra, fixed + fy * rb));
        return saturate(std::fma(fx, ra, std::fma(fy, rb, fixed)));
      });
    }
    if (!out)
      status = out.status().withContext(ctx.node().describe());
    else
      ctx.setOutput(0, std::move(out).value());
  });
  return status;
}

Status qlinearGlobalAveragePool(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (!is8Bit(x->dtype)) return ctx.unsupportedHere("input must be uint8 or int8");
  if (x->shape.size() < 3) return ctx.fail("input must have rank >= 3");
  auto px = qparams(ctx, 1, 2, x->dtype);
  auto py = qparams(ctx, 3, 4, x->dtype);
  for (const Status* s : {&px.status(), &py.status()})
    if (!s->isOk()) return s->withContext(ctx.node().describe());
  const bool channels_last = ctx.attrInt("channels_last", 0) != 0;
  const size_t rank = x->shape.size();
  const int64_t batch = x->shape[0], C = channels_last ? x->shape[rank - 1] : x->shape[1];
  const int64_t image = channels_last ? product(x->shape, 1, rank - 1) : product(x->shape, 2);
  std::vector<int64_t> out_shape(rank, 1);
  out_shape[0] = batch;
  out_shape[channels_last ? rank - 1 : 1] = C;
  int32_t lo = 0, hi = 0;
  quantRange(x->dtype, &lo, &hi);
  const float scale = px->scale / (py->scale * static_cast<float>(image));
  const float flo = static_cast<float>(lo - py->zp), fhi = static_cast<float>(hi - py->zp);
  dispatch8(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x->dtype, out_shape, &y);
    const T* in = x->dataAs<T>();
#pragma omp parallel for if (batch * C * image > kMinParallelWork)
    for (int64_t bc = 0; bc < batch * C; ++bc) {
      const int64_t n = bc / C, c = bc % C;
      int32_t sum = 0;
      if (channels_last)
        for (int64_t i = 0; i < image; ++i) sum += in[(n * image + i) * C + c];
      else
        for (int64_t i = 0; i < image; ++i) sum += in[bc * image + i];
      const int32_t acc = sum - px->zp * static_cast<int32_t>(image);
      y[bc] = requantizeOne<T>(acc, scale, py->zp, flo, fhi);
    }
    ctx.setOutput(0, std::move(out));
  });
  return Status::ok();
}

Status qlinearConcat(KernelContext& ctx) {
  if (ctx.inputCount() < 5 || (ctx.inputCount() - 2) % 3 != 0)
    return ctx.fail("expects Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples");
  const size_t count = (ctx.inputCount() - 2) / 3;
  NNC_ASSIGN_OR_RETURN(const Tensor* first, ctx.requiredInput(2));
  const DType type = first->dtype;
  if (!is8Bit(type)) return ctx.unsupportedHere("inputs must be uint8 or int8");
  auto py = qparams(ctx, 0, 1, type);
  if (!py) return py.status().withContext(ctx.node().describe());
  const int64_t rank = static_cast<int64_t>(first->shape.size());
  auto axis = normalizeAxis(ctx.attrInt("axis", 0), rank);
  if (!axis) return axis.status().withContext(ctx.node().describe());
  std::vector<int64_t> out_shape = first->shape;
  out_shape[*axis] = 0;
  std::vector<const Tensor*> xs;
  std::vector<QParams> ps;
  for (size_t i = 0; i < count; ++i) {
    NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(2 + 3 * i));
    if (x->dtype != type || static_cast<int64_t>(x->shape.size()) != rank)
      return ctx.fail("inputs differ in type or rank");
    for (int64_t d = 0; d < rank; ++d)
      if (d != *axis && x->shape[d] != first->shape[d]) return ctx.fail("input shapes differ off the concat axis");
    auto p = qparams(ctx, 3 + 3 * i, 4 + 3 * i, type);
    if (!p) return p.status().withContext(ctx.node().describe());
    out_shape[*axis] += x->shape[*axis];
    xs.push_back(x);
    ps.push_back(*p);
  }
  int32_t lo = 0, hi = 0;
  quantRange(type, &lo, &hi);
  const int64_t outer = product(out_shape, 0, *axis), inner = product(out_shape, *axis + 1);
  dispatch8(type, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(type, out_shape, &y);
    int64_t offset = 0;  // along the axis
    for (size_t i = 0; i < xs.size(); ++i) {
      const T* in = xs[i]->dataAs<T>();
      const int64_t span = xs[i]->shape[*axis] * inner;
      // Requantization table: one entry per input value (identity when the params agree).
      T table[256];
      for (int v = 0; v < 256; ++v) {
        const int32_t q = std::is_signed_v<T> ? v - 128 : v;
        const float real = static_cast<float>(q - ps[i].zp) * ps[i].scale;
        const bool same = ps[i].scale == py->scale && ps[i].zp == py->zp;
        table[v] = same ? static_cast<T>(q)
                        : static_cast<T>(quantizeOne(real, py->scale, py->zp, static_cast<float>(lo - py->zp),
                                                     static_cast<float>(hi - py->zp)));
      }
      const int bias = std::is_signed_v<T> ? 128 : 0;
      for (int64_t o = 0; o < outer; ++o) {
        T* dst = y + (o * out_shape[*axis] + offset) * inner;
        const T* src = in + o * span;
        for (int64_t j = 0; j < span; ++j) dst[j] = table[static_cast<int>(src[j]) + bias];
      }
      offset += xs[i]->shape[*axis];
    }
    ctx.setOutput(0, std::move(out));
  });
  return Status::ok();
}

}  // namespace

void registerQLinearMsOps(OpRegistry& registry) {
  registry.add({"com.microsoft", "QLinearAdd", 1, 1000, qlinearBinary<false>});
  registry.add({"com.microsoft", "QLinearMul", 1, 1000, qlinearBinary<true>});
  registry.add({"com.microsoft", "QLinearGlobalAveragePool", 1, 1000, qlinearGlobalAveragePool});
  registry.add({"com.microsoft", "QLinearConcat", 1, 1000, qlinearConcat});
}

}  // namespace nnc::ops

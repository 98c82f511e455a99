// The u8 x s8 AVX2 GEMM of qgemm_u8s8.h: weight packing, the activation packing of each call, the
// 4 x 16 register-tile kernels and the output step (requantization or float scaling) applied to
// each tile while it is still in cache, so no int32 intermediate tensor is written.
#include "qgemm_u8s8.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "qgemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NNC_U8S8_X86 1
#endif

namespace nnc::ops {
namespace {

// Header of a packed weight tensor (int64 words), then the sums (int32, padded to 8 bytes), then the data.
constexpr int64_t kMagic = 0x38533855;  // "U8S8"
constexpr int64_t kHeaderWords = 6;     // magic, role, channels, K, groups, data bytes

int64_t sumsBytes(int64_t channels) { return (channels * 4 + 7) / 8 * 8; }

// Output columns per job (a multiple of kU8S8Nr): small enough to share work on two threads,
// large enough that a job's packing of its rows is amortized.
constexpr int64_t kPanelsPerJob = 4;

#ifdef NNC_U8S8_X86

// acc[r][0..1] += a_r (4 bytes, broadcast) . panel (16 columns x 4 bytes), r < R. kPanelUnsigned:
// the panel holds the uint8 operand (Conv: activations), else the broadcast does (MatMul).
template <int R, bool kPanelUnsigned>
__attribute__((target("avx2,fma"))) void kernel(const uint8_t* bc, const uint8_t* panel, int64_t kquads,
                                                int32_t* tile) {
  static_assert(R >= 1 && R <= kU8S8Mr);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t kq = 0; kq < kquads; ++kq) {
    const __m256i p0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + kq * 64));
    const __m256i p1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + kq * 64 + 32));
    const uint8_t* a = bc + kq * kU8S8Mr * 4;
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      int32_t word;
      std::memcpy(&word, a + r * 4, 4);
      const __m256i b = _mm256_set1_epi32(word);
      __m256i t0, t1;
      if constexpr (kPanelUnsigned) {
        t0 = _mm256_maddubs_epi16(p0, b);
        t1 = _mm256_maddubs_epi16(p1, b);
      } else {
        t0 = _mm256_maddubs_epi16(b, p0);
        t1 = _mm256_maddubs_epi16(b, p1);
      }
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(t0, ones));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(t1, ones));
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + r * kU8S8Nr), acc[r][0]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile + r * kU8S8Nr + 8), acc[r][1]);
  }
}

template <bool kPanelUnsigned>
void runKernel(int rows, const uint8_t* bc, const uint8_t* panel, int64_t kquads, int32_t* tile) {
  switch (rows) {
    case 1: return kernel<1, kPanelUnsigned>(bc, panel, kquads, tile);
    case 2: return kernel<2, kPanelUnsigned>(bc, panel, kquads, tile);
    case 3: return kernel<3, kPanelUnsigned>(bc, panel, kquads, tile);
    default: return kernel<4, kPanelUnsigned>(bc, panel, kquads, tile);
  }
}

// 16 int32 sums of one tile row -> outputs. Channel per column (MatMul) or one for the row (Conv).
// The quantized path is requantizeOne (qgemm.h) in vector form: same float operations, same order.
__attribute__((target("avx2,fma"))) void storeRow(const int32_t* acc, const U8S8Output& o, int64_t m, int64_t n0,
                                                  int64_t cols, bool channel_is_column, int64_t row_channel) {
  alignas(32) int32_t v[kU8S8Nr];
  alignas(32) float f[kU8S8Nr];
  __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc));
  __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + 8));
  __m256 s0, s1;
  if (channel_is_column && cols == kU8S8Nr) {
    a0 = _mm256_add_epi32(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(o.offset + n0)));
    a1 = _mm256_add_epi32(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(o.offset + n0 + 8)));
    s0 = _mm256_loadu_ps(o.scale + n0);
    s1 = _mm256_loadu_ps(o.scale + n0 + 8);
  } else if (channel_is_column) {
    alignas(32) int32_t off[kU8S8Nr] = {};
    alignas(32) float sc[kU8S8Nr] = {};
    for (int64_t j = 0; j < cols; ++j) {
      off[j] = o.offset[n0 + j];
      sc[j] = o.scale[n0 + j];
    }
    a0 = _mm256_add_epi32(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(off)));
    a1 = _mm256_add_epi32(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(off + 8)));
    s0 = _mm256_load_ps(sc);
    s1 = _mm256_load_ps(sc + 8);
  } else {
    const __m256i off = _mm256_set1_epi32(o.offset[row_channel]);
    a0 = _mm256_add_epi32(a0, off);
    a1 = _mm256_add_epi32(a1, off);
    s0 = s1 = _mm256_set1_ps(o.scale[row_channel]);
  }
  __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(a0), s0);
  __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(a1), s1);
  if (o.out_type == DType::kFloat) {
    float* y = static_cast<float*>(o.out) + m * o.ldo + n0;
    _mm256_store_ps(f, f0);
    _mm256_store_ps(f + 8, f1);
    for (int64_t j = 0; j < cols; ++j)
      y[j] = o.fbias ? f[j] + o.fbias[m * o.fbias_rs + (n0 + j) * o.fbias_cs] : f[j];
    return;
  }
  const __m256 lo = _mm256_set1_ps(o.lo), hi = _mm256_set1_ps(o.hi);
  // max(v, lo) returns lo for NaN, like requantizeOne.
  f0 = _mm256_min_ps(_mm256_max_ps(f0, lo), hi);
  f1 = _mm256_min_ps(_mm256_max_ps(f1, lo), hi);
  const __m256i zp = _mm256_set1_epi32(o.zp);
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), _mm256_add_epi32(_mm256_cvtps_epi32(f0), zp));
  _mm256_store_si256(reinterpret_cast<__m256i*>(v + 8), _mm256_add_epi32(_mm256_cvtps_epi32(f1), zp));
  if (o.out_type == DType::kUInt8) {
    uint8_t* y = static_cast<uint8_t*>(o.out) + m * o.ldo + n0;
    for (int64_t j = 0; j < cols; ++j) y[j] = static_cast<uint8_t>(v[j]);
  } else {
    int8_t* y = static_cast<int8_t*>(o.out) + m * o.ldo + n0;
    for (int64_t j = 0; j < cols; ++j) y[j] = static_cast<int8_t>(v[j]);
  }
}

// Rows m0 .. m0 + rows of x as [k quad][kU8S8Mr][4 bytes], signed values shifted to uint8, K padded with 0.
void packRows(const uint8_t* x, int64_t lda, bool x_signed, int64_t m0, int rows, int64_t K, int64_t kquads,
              uint8_t* dst) {
  const uint8_t flip = x_signed ? 0x80 : 0;
  for (int r = 0; r < rows; ++r) {
    const uint8_t* src = x + (m0 + r) * lda;
    uint8_t* d = dst + r * 4;
    const int64_t full = K / 4;
    for (int64_t kq = 0; kq < full; ++kq) {
      uint32_t word;
      std::memcpy(&word, src + kq * 4, 4);
      word ^= flip * 0x01010101u;
      std::memcpy(d + kq * kU8S8Mr * 4, &word, 4);
    }
    for (int64_t kq = full; kq < kquads; ++kq)
      for (int64_t b = 0; b < 4; ++b) {
        const int64_t k = kq * 4 + b;
        d[kq * kU8S8Mr * 4 + b] = k < K ? static_cast<uint8_t>(src[k] ^ flip) : 0;
      }
  }
}

// Columns n0 .. n0 + 16 of the [K, N] matrix whose row k starts at rows[k], as [k quad][16][4 bytes]
// (4 x 16 byte transposes).
__attribute__((target("avx2,fma"))) void packPanel(const uint8_t* const* rows, int64_t K, int64_t N, int64_t n0,
                                                   int64_t kquads, uint8_t* dst) {
  const int64_t cols = std::min(kU8S8Nr, N - n0);
  for (int64_t kq = 0; kq < kquads; ++kq) {
    const int64_t k = kq * 4;
    uint8_t* d = dst + kq * 64;
    if (cols == kU8S8Nr && k + 3 < K) {
      const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[k] + n0));
      const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[k + 1] + n0));
      const __m128i r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[k + 2] + n0));
      const __m128i r3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[k + 3] + n0));
      const __m128i t0 = _mm_unpacklo_epi8(r0, r1), t1 = _mm_unpackhi_epi8(r0, r1);
      const __m128i t2 = _mm_unpacklo_epi8(r2, r3), t3 = _mm_unpackhi_epi8(r2, r3);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_unpacklo_epi16(t0, t2));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16), _mm_unpackhi_epi16(t0, t2));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 32), _mm_unpacklo_epi16(t1, t3));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 48), _mm_unpackhi_epi16(t1, t3));
      continue;
    }
    for (int64_t j = 0; j < kU8S8Nr; ++j)
      for (int64_t b = 0; b < 4; ++b)
        d[j * 4 + b] = (j < cols && k + b < K) ? rows[k + b][n0 + j] : 0;
  }
}

#endif  // NNC_U8S8_X86

}  // namespace

bool u8s8Supported() {
#ifdef NNC_U8S8_X86
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
#else
  return false;
#endif
}

Tensor packU8S8Weights(const int8_t* w, int64_t channels, int64_t K, int64_t c_stride, int64_t k_stride,
                       WeightRole role, int64_t groups) {
  if (!u8s8Supported() || channels <= 0 || K <= 0 || groups < 1 || channels % groups != 0) return Tensor();
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t k = 0; k < K; ++k) {
      const int v = w[c * c_stride + k * k_stride];
      if (v < -64 || v > 64) return Tensor();  // vpmaddubsw could saturate: not this kernel's job
    }
  const int64_t kquads = (K + 3) / 4;
  int64_t data_bytes = 0;
  if (role == WeightRole::kPanel) {
    data_bytes = (channels + kU8S8Nr - 1) / kU8S8Nr * kquads * kU8S8Nr * 4;
  } else {
    const int64_t tiles = (channels / groups + kU8S8Mr - 1) / kU8S8Mr;
    data_bytes = groups * tiles * kquads * kU8S8Mr * 4;
  }
  uint8_t* bytes = nullptr;
  Tensor packed = Tensor::zeros(DType::kUInt8, {kHeaderWords * 8 + sumsBytes(channels) + data_bytes}, &bytes);
  const int64_t header[kHeaderWords] = {kMagic, static_cast<int64_t>(role), channels, K, groups, data_bytes};
  std::memcpy(bytes, header, sizeof header);
  int32_t* sums = reinterpret_cast<int32_t*>(bytes + kHeaderWords * 8);
  int8_t* data = reinterpret_cast<int8_t*>(bytes + kHeaderWords * 8 + sumsBytes(channels));
  for (int64_t c = 0; c < channels; ++c) {
    int32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) sum += w[c * c_stride + k * k_stride];
    sums[c] = sum;
  }
  for (int64_t c = 0; c < channels; ++c) {
    int64_t base = 0, lane = 0;
    if (role == WeightRole::kPanel) {
      base = c / kU8S8Nr * kquads * kU8S8Nr * 4;
      lane = c % kU8S8Nr;
    } else {
      const int64_t per_group = channels / groups, g = c / per_group, cg = c % per_group;
      const int64_t tiles = (per_group + kU8S8Mr - 1) / kU8S8Mr;
      base = (g * tiles + cg / kU8S8Mr) * kquads * kU8S8Mr * 4;
      lane = cg % kU8S8Mr;
    }
    const int64_t lanes = role == WeightRole::kPanel ? kU8S8Nr : kU8S8Mr;
    for (int64_t k = 0; k < K; ++k) data[base + (k / 4) * lanes * 4 + lane * 4 + (k % 4)] = w[c * c_stride + k * k_stride];
  }
  return packed;
}

std::optional<PackedWeights> viewPackedWeights(const Tensor& packed) {
  if (packed.dtype != DType::kUInt8 || packed.byteSize() < static_cast<size_t>(kHeaderWords * 8)) return std::nullopt;
  int64_t header[kHeaderWords];
  std::memcpy(header, packed.bytes(), sizeof header);
  if (header[0] != kMagic) return std::nullopt;
  PackedWeights w;
  w.role = static_cast<WeightRole>(header[1]);
  w.channels = header[2];
  w.K = header[3];
  w.groups = header[4];
  w.kquads = (w.K + 3) / 4;
  if (packed.byteSize() != static_cast<size_t>(kHeaderWords * 8 + sumsBytes(w.channels) + header[5])) return std::nullopt;
  w.sums = reinterpret_cast<const int32_t*>(packed.bytes() + kHeaderWords * 8);
  w.data = reinterpret_cast<const int8_t*>(packed.bytes() + kHeaderWords * 8 + sumsBytes(w.channels));
  return w;
}

void u8s8GemmRows(const uint8_t* x, int64_t M, int64_t lda, bool x_signed, const PackedWeights& w,
                  const U8S8Output& out, int threads) {
#ifdef NNC_U8S8_X86
  const int64_t N = w.channels, kquads = w.kquads;
  const int64_t tiles = (M + kU8S8Mr - 1) / kU8S8Mr, panels = (N + kU8S8Nr - 1) / kU8S8Nr;
  const int64_t blocks = (panels + kPanelsPerJob - 1) / kPanelsPerJob, jobs = tiles * blocks;
  const bool parallel = threads > 1 && jobs > 1 && M * N * w.K >= (1 << 18);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    std::vector<uint8_t> apack(static_cast<size_t>(kquads * kU8S8Mr * 4));
    alignas(32) int32_t tile[kU8S8Mr * kU8S8Nr];
    int64_t packed_tile = -1;
#pragma omp for schedule(static)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t t = job / blocks, blk = job % blocks;
      const int rows = static_cast<int>(std::min(kU8S8Mr, M - t * kU8S8Mr));
      if (packed_tile != t) {
        packRows(x, lda, x_signed, t * kU8S8Mr, rows, w.K, kquads, apack.data());
        packed_tile = t;
      }
      for (int64_t p = blk * kPanelsPerJob; p < std::min(panels, (blk + 1) * kPanelsPerJob); ++p) {
        const uint8_t* panel = reinterpret_cast<const uint8_t*>(w.data) + p * kquads * kU8S8Nr * 4;
        runKernel<false>(rows, apack.data(), panel, kquads, tile);
        const int64_t cols = std::min(kU8S8Nr, N - p * kU8S8Nr);
        for (int r = 0; r < rows; ++r) storeRow(tile + r * kU8S8Nr, out, t * kU8S8Mr + r, p * kU8S8Nr, cols, true, 0);
      }
    }
  }
#else
  (void)x, (void)M, (void)lda, (void)x_signed, (void)w, (void)out, (void)threads;
#endif
}

void u8s8GemmBroadcast(const PackedWeights& w, int64_t group, const uint8_t* col, int64_t N, const U8S8Output& out,
                       int threads) {
  std::vector<const uint8_t*> rows(static_cast<size_t>(w.K));
  for (int64_t k = 0; k < w.K; ++k) rows[static_cast<size_t>(k)] = col + k * N;
  u8s8GemmBroadcastRows(w, group, rows.data(), N, out, threads);
}

void u8s8GemmBroadcastRows(const PackedWeights& w, int64_t group, const uint8_t* const* rows, int64_t N,
                           const U8S8Output& out, int threads) {
#ifdef NNC_U8S8_X86
  const int64_t kquads = w.kquads, Mg = w.groupChannels(), tiles = w.groupTiles();
  const uint8_t* wdata = reinterpret_cast<const uint8_t*>(w.data) + group * tiles * kquads * kU8S8Mr * 4;
  const int64_t panels = (N + kU8S8Nr - 1) / kU8S8Nr;
  const bool parallel = threads > 1 && panels > 1 && Mg * N * w.K >= (1 << 18);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    std::vector<uint8_t> ppack(static_cast<size_t>(kquads * kU8S8Nr * 4));
    alignas(32) int32_t tile[kU8S8Mr * kU8S8Nr];
    // One panel of positions at a time, packed once and kept in L1 while every channel tile reads it.
#pragma omp for schedule(static)
    for (int64_t p = 0; p < panels; ++p) {
      packPanel(rows, w.K, N, p * kU8S8Nr, kquads, ppack.data());
      const int64_t cols = std::min(kU8S8Nr, N - p * kU8S8Nr);
      for (int64_t t = 0; t < tiles; ++t) {
        const int rows = static_cast<int>(std::min(kU8S8Mr, Mg - t * kU8S8Mr));
        runKernel<true>(rows, wdata + t * kquads * kU8S8Mr * 4, ppack.data(), kquads, tile);
        for (int r = 0; r < rows; ++r) {
          const int64_t c = t * kU8S8Mr + r;
          storeRow(tile + r * kU8S8Nr, out, c, p * kU8S8Nr, cols, false, c);
        }
      }
    }
  }
#else
  (void)w, (void)group, (void)rows, (void)N, (void)out, (void)threads;
#endif
}

}  // namespace nnc::ops

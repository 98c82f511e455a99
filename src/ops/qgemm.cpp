// The integer GEMM of qgemm.h: reference loop, AVX2 (16-bit vpmaddwd) and
// AVX-512 VNNI (vpdpbusd) paths. Both SIMD paths pack A into MR-row tiles and B
// into NR-column panels (zero padded, so edge tiles need no special kernel) and
// keep a whole K reduction of one MR x NR tile in registers. Operands are packed
// on every call (QLinear*, MatMulInteger, ConvInteger); the fused QDQ kernels use
// qgemm_u8s8.h with their weights packed once per Session.
#include "qgemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NNC_QGEMM_X86 1
#endif

namespace nnc::ops {
namespace {

inline int32_t loadA(const QGemmArgs& g, int64_t m, int64_t k) {
  const uint8_t v = g.A[m * g.lda + k];
  return g.a_signed ? static_cast<int32_t>(static_cast<int8_t>(v)) : static_cast<int32_t>(v);
}
inline int32_t loadB(const QGemmArgs& g, int64_t k, int64_t n) {
  const uint8_t v = g.B[k * g.ldb + n];
  return g.b_signed ? static_cast<int32_t>(static_cast<int8_t>(v)) : static_cast<int32_t>(v);
}
inline int32_t zpA(const QGemmArgs& g, int64_t m) { return g.a_zp ? g.a_zp[g.a_zp_per_row ? m : 0] : 0; }
inline int32_t zpB(const QGemmArgs& g, int64_t n) { return g.b_zp ? g.b_zp[g.b_zp_per_col ? n : 0] : 0; }

// ---- reference: row by row, k outer so the n loop vectorizes; sums wrap mod
// 2^32 ----------
void referenceGemm(const QGemmArgs& g, int threads) {
  const int64_t M = g.M, N = g.N, K = g.K;
  std::vector<int32_t> bz(static_cast<size_t>(K * N));  // B - zb as int32
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) bz[k * N + n] = loadB(g, k, n) - zpB(g, n);
#pragma omp parallel for num_threads(threads) if (M * N * K > (1 << 20))
  for (int64_t m = 0; m < M; ++m) {
    uint32_t* c = reinterpret_cast<uint32_t*>(g.C + m * g.ldc);
    for (int64_t n = 0; n < N; ++n) c[n] = 0;
    const int32_t za = zpA(g, m);
    for (int64_t k = 0; k < K; ++k) {
      const int32_t a = loadA(g, m, k) - za;
      const int32_t* b = bz.data() + k * N;
      for (int64_t n = 0; n < N; ++n) c[n] += static_cast<uint32_t>(a * b[n]);
    }
  }
}

#ifdef NNC_QGEMM_X86

// Jobs: blocks of MC tiles x NC panels, so one B panel is reused by several A
// tiles. An orphaned `omp for`: called inside the GEMM's one parallel region
// (packing, barrier, tiles), so a GEMM costs one fork/join.
template <typename Fn>
void forEachTileBlock(int64_t m_tiles, int64_t n_panels, int64_t mc, int64_t nc, Fn&& fn) {
  const int64_t mb = (m_tiles + mc - 1) / mc, nb = (n_panels + nc - 1) / nc;
#pragma omp for collapse(2) schedule(dynamic)
  for (int64_t i = 0; i < mb; ++i)
    for (int64_t j = 0; j < nb; ++j)
      for (int64_t p = j * nc; p < std::min(n_panels, (j + 1) * nc); ++p)
        for (int64_t t = i * mc; t < std::min(m_tiles, (i + 1) * mc); ++t) fn(t, p);
}

// Whether a GEMM is worth more than one thread.
// (Each of its three barriers costs microseconds, far more on a loaded machine.)
inline bool parallelWorth(const QGemmArgs& g) { return g.M * g.N * g.K > (1 << 22); }

// Writes an MR x NR tile (held in `tile`) to C, clipped at the matrix edges.
inline void storeClipped(const QGemmArgs& g, const int32_t* tile, int64_t nr, int64_t m0, int64_t n0, int64_t mr) {
  const int64_t rows = std::min<int64_t>(mr, g.M - m0), cols = std::min<int64_t>(nr, g.N - n0);
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(g.C + (m0 + r) * g.ldc + n0, tile + r * nr, static_cast<size_t>(cols) * 4);
}

// ---- AVX2: operands minus zero points as int16 pairs, vpmaddwd into int32
// (exact) ----------
constexpr int64_t kMr2 = 6, kNr2 = 16;

__attribute__((target("avx2,fma"))) void avx2Kernel(const int32_t* ap, const int16_t* bp, int64_t kpairs,
                                                    int32_t* out) {
  // Written out row by row (12 accumulators, 2 B vectors, 1 broadcast = 15
  // registers) so the compiler keeps every accumulator in a register.
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t kk = 0; kk < kpairs; ++kk) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + kk * 32));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + kk * 32 + 16));
    const int32_t* a = ap + kk * kMr2;
    __m256i av;
#define NNC_ROW(r)                                                \
  av = _mm256_set1_epi32(a[r]);                                   \
  c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(av, b0)); \
  c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(av, b1));
    NNC_ROW(0) NNC_ROW(1) NNC_ROW(2) NNC_ROW(3) NNC_ROW(4) NNC_ROW(5)
#undef NNC_ROW
  }
  __m256i* o = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(o + 0, c00);
  _mm256_storeu_si256(o + 1, c01);
  _mm256_storeu_si256(o + 2, c10);
  _mm256_storeu_si256(o + 3, c11);
  _mm256_storeu_si256(o + 4, c20);
  _mm256_storeu_si256(o + 5, c21);
  _mm256_storeu_si256(o + 6, c30);
  _mm256_storeu_si256(o + 7, c31);
  _mm256_storeu_si256(o + 8, c40);
  _mm256_storeu_si256(o + 9, c41);
  _mm256_storeu_si256(o + 10, c50);
  _mm256_storeu_si256(o + 11, c51);
}

// A rows as int16 (a - za) into the [k pair][row] interleave of one MR-row
// tile.
template <typename T>
void packA2(const QGemmArgs& g, int64_t t, int64_t kpairs, int16_t* dst) {
  for (int64_t r = 0; r < kMr2; ++r) {
    const int64_t m = t * kMr2 + r;
    int16_t* d = dst + r * 2;
    if (m >= g.M) {
      for (int64_t kk = 0; kk < kpairs; ++kk) d[kk * kMr2 * 2] = d[kk * kMr2 * 2 + 1] = 0;
      continue;
    }
    const T* a = reinterpret_cast<const T*>(g.A + m * g.lda);
    const int16_t za = static_cast<int16_t>(zpA(g, m));
    const int64_t full = g.K / 2;
    for (int64_t kk = 0; kk < full; ++kk) {
      d[kk * kMr2 * 2] = static_cast<int16_t>(a[2 * kk] - za);
      d[kk * kMr2 * 2 + 1] = static_cast<int16_t>(a[2 * kk + 1] - za);
    }
    if (full < kpairs) {
      d[full * kMr2 * 2] = static_cast<int16_t>(a[2 * full] - za);
      d[full * kMr2 * 2 + 1] = 0;
    }
  }
}

// B rows k, k+1 of one NR-column panel as interleaved int16 pairs (b - zb).
// Full panels with both rows present go through AVX2 (widen, subtract, unpack);
// edges through scalar code.
template <typename T>
__attribute__((target("avx2,fma"))) void packB2(const QGemmArgs& g, int64_t p, int64_t kpairs, const int16_t* zb,
                                                int16_t* dst) {
  const int64_t n0 = p * kNr2, cols = std::min(kNr2, g.N - n0);
  const __m256i zv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zb + n0));
  for (int64_t kk = 0; kk < kpairs; ++kk) {
    const int64_t k = kk * 2;
    int16_t* d = dst + kk * kNr2 * 2;
    const T* r0 = reinterpret_cast<const T*>(g.B + k * g.ldb + n0);
    if (cols == kNr2 && k + 1 < g.K) {
      const T* r1 = reinterpret_cast<const T*>(g.B + (k + 1) * g.ldb + n0);
      const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r0));
      const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r1));
      __m256i w0, w1;
      if constexpr (std::is_signed_v<T>) {
        w0 = _mm256_cvtepi8_epi16(x0);
        w1 = _mm256_cvtepi8_epi16(x1);
      } else {
        w0 = _mm256_cvtepu8_epi16(x0);
        w1 = _mm256_cvtepu8_epi16(x1);
      }
      w0 = _mm256_sub_epi16(w0, zv);
      w1 = _mm256_sub_epi16(w1, zv);
      const __m256i lo = _mm256_unpacklo_epi16(w0, w1), hi = _mm256_unpackhi_epi16(w0, w1);
      _mm256_store_si256(reinterpret_cast<__m256i*>(d), _mm256_permute2x128_si256(lo, hi, 0x20));
      _mm256_store_si256(reinterpret_cast<__m256i*>(d + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
      continue;
    }
    for (int64_t j = 0; j < kNr2; ++j) {
      const bool in = j < cols;
      d[j * 2] = in ? static_cast<int16_t>(r0[j] - zb[n0 + j]) : 0;
      d[j * 2 + 1] = (in && k + 1 < g.K) ? static_cast<int16_t>(r0[j + g.ldb] - zb[n0 + j]) : 0;
    }
  }
}

void avx2Gemm(const QGemmArgs& g, int threads) {
  const int64_t M = g.M, N = g.N, K = g.K;
  const int64_t kpairs = (K + 1) / 2;
  const int64_t m_tiles = (M + kMr2 - 1) / kMr2, n_panels = (N + kNr2 - 1) / kNr2;
  // A: [tile][k pair][row] of two int16 (a - za); B: [panel][k pair][col][2]
  // int16 (b - zb).
  std::vector<int16_t> apack(static_cast<size_t>(m_tiles * kpairs * kMr2 * 2));
  std::vector<int16_t> bstore(static_cast<size_t>(n_panels * kpairs * kNr2 * 2 + 16));
  int16_t* bpack = reinterpret_cast<int16_t*>((reinterpret_cast<uintptr_t>(bstore.data()) + 31) & ~uintptr_t(31));
  std::vector<int16_t> zb(static_cast<size_t>(n_panels * kNr2),
                          0);  // padded for the vector load
  for (int64_t n = 0; n < N; ++n) zb[static_cast<size_t>(n)] = static_cast<int16_t>(zpB(g, n));
#pragma omp parallel num_threads(threads) if (parallelWorth(g))
  {
#pragma omp for nowait
    for (int64_t t = 0; t < m_tiles; ++t) {
      int16_t* dst = apack.data() + t * kpairs * kMr2 * 2;
      if (g.a_signed)
        packA2<int8_t>(g, t, kpairs, dst);
      else
        packA2<uint8_t>(g, t, kpairs, dst);
    }
#pragma omp for
    for (int64_t p = 0; p < n_panels; ++p) {
      int16_t* dst = bpack + p * kpairs * kNr2 * 2;
      if (g.b_signed)
        packB2<int8_t>(g, p, kpairs, zb.data(), dst);
      else
        packB2<uint8_t>(g, p, kpairs, zb.data(), dst);
    }
    forEachTileBlock(m_tiles, n_panels, 16, 8, [&](int64_t t, int64_t p) {
      alignas(32) int32_t tile[kMr2 * kNr2];
      const int32_t* ap = reinterpret_cast<const int32_t*>(apack.data() + t * kpairs * kMr2 * 2);
      avx2Kernel(ap, bpack + p * kpairs * kNr2 * 2, kpairs, tile);
      storeClipped(g, tile, kNr2, t * kMr2, p * kNr2, kMr2);
    });
  }
}

// ---- AVX-512 VNNI: u8 activations x s8 weights quads (vpdpbusd), corrected by
// sums --------- A' = A (+128 if signed) is u8, B' = B (-128 if unsigned) is
// s8, za' and zb' shift alike, and sum (A'-za')(B'-zb') = raw - zb'*rowsum(A')
// - za'*colsum(B') + K*za'*zb'.
constexpr int64_t kMr5 = 6, kNr5 = 32;

__attribute__((target("avx512vnni,avx512bw,avx512f"))) void vnniKernel(const int32_t* ap, const int8_t* bp,
                                                                       int64_t kquads, int32_t* out) {
  __m512i c[kMr5][2];
  for (int r = 0; r < kMr5; ++r) c[r][0] = c[r][1] = _mm512_setzero_si512();
  for (int64_t kq = 0; kq < kquads; ++kq) {
    const __m512i b0 = _mm512_load_si512(reinterpret_cast<const void*>(bp + kq * 128));
    const __m512i b1 = _mm512_load_si512(reinterpret_cast<const void*>(bp + kq * 128 + 64));
    const int32_t* a = ap + kq * kMr5;
#pragma GCC unroll 6
    for (int r = 0; r < kMr5; ++r) {
      const __m512i av = _mm512_set1_epi32(a[r]);
      c[r][0] = _mm512_dpbusd_epi32(c[r][0], av, b0);
      c[r][1] = _mm512_dpbusd_epi32(c[r][1], av, b1);
    }
  }
  for (int r = 0; r < kMr5; ++r) {
    _mm512_storeu_si512(reinterpret_cast<void*>(out + r * kNr5), c[r][0]);
    _mm512_storeu_si512(reinterpret_cast<void*>(out + r * kNr5 + 16), c[r][1]);
  }
}

void vnniGemm(const QGemmArgs& g, int threads) {
  const int64_t M = g.M, N = g.N, K = g.K;
  const int64_t kquads = (K + 3) / 4;
  const int64_t m_tiles = (M + kMr5 - 1) / kMr5, n_panels = (N + kNr5 - 1) / kNr5;
  const uint8_t a_flip = g.a_signed ? 0x80 : 0, b_flip = g.b_signed ? 0 : 0x80;
  std::vector<int32_t> apack(static_cast<size_t>(m_tiles * kquads * kMr5));
  std::vector<int8_t> bstore(static_cast<size_t>(n_panels * kquads * kNr5 * 4 + 64));
  int8_t* bpack = reinterpret_cast<int8_t*>((reinterpret_cast<uintptr_t>(bstore.data()) + 63) & ~uintptr_t(63));
  std::vector<int32_t> rowsum(static_cast<size_t>(M)), colsum(static_cast<size_t>(N));
#pragma omp parallel num_threads(threads) if (parallelWorth(g))
  {
#pragma omp for nowait
    for (int64_t t = 0; t < m_tiles; ++t)
      for (int64_t r = 0; r < kMr5; ++r) {
        const int64_t m = t * kMr5 + r;
        uint8_t* dst = reinterpret_cast<uint8_t*>(apack.data() + t * kquads * kMr5) + r * 4;
        int32_t sum = 0;
        for (int64_t k = 0; k < kquads * 4; ++k) {
          const uint8_t v = (m < M && k < K) ? static_cast<uint8_t>(g.A[m * g.lda + k] ^ a_flip) : 0;
          dst[(k / 4) * kMr5 * 4 + (k & 3)] = v;
          sum += v;
        }
        if (m < M) rowsum[m] = sum;
      }
#pragma omp for
    for (int64_t p = 0; p < n_panels; ++p) {
      int8_t* dst = bpack + p * kquads * kNr5 * 4;
      for (int64_t j = 0; j < kNr5; ++j) {
        const int64_t n = p * kNr5 + j;
        int32_t sum = 0;
        for (int64_t k = 0; k < kquads * 4; ++k) {
          const int8_t v = (k < K && n < N) ? static_cast<int8_t>(g.B[k * g.ldb + n] ^ b_flip) : 0;
          dst[(k / 4) * kNr5 * 4 + j * 4 + (k & 3)] = v;
          sum += v;
        }
        if (n < N) colsum[n] = sum;
      }
    }
    forEachTileBlock(m_tiles, n_panels, 16, 4, [&](int64_t t, int64_t p) {
      alignas(64) int32_t tile[kMr5 * kNr5];
      vnniKernel(apack.data() + t * kquads * kMr5, bpack + p * kquads * kNr5 * 4, kquads, tile);
      const int64_t rows = std::min(kMr5, M - t * kMr5), cols = std::min(kNr5, N - p * kNr5);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t m = t * kMr5 + r;
        const uint32_t za = static_cast<uint32_t>(zpA(g, m) + (g.a_signed ? 128 : 0));
        const uint32_t row_term = static_cast<uint32_t>(K) * za - static_cast<uint32_t>(rowsum[m]);
        int32_t* c = g.C + m * g.ldc + p * kNr5;
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t n = p * kNr5 + j;
          const uint32_t zb = static_cast<uint32_t>(zpB(g, n) - (g.b_signed ? 0 : 128));
          c[j] = static_cast<int32_t>(static_cast<uint32_t>(tile[r * kNr5 + j]) + zb * row_term -
                                      za * static_cast<uint32_t>(colsum[n]));
        }
      }
    });
  }
}

#endif  // NNC_QGEMM_X86

}  // namespace

bool qgemmPathSupported(QGemmPath path) {
  switch (path) {
    case QGemmPath::kReference:
      return true;
#ifdef NNC_QGEMM_X86
    case QGemmPath::kAvx2:
      return __builtin_cpu_supports("avx2");
    case QGemmPath::kAvx512Vnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni");
#endif
    default:
      return false;
  }
}

QGemmPath bestQGemmPath() {
  static const QGemmPath best = qgemmPathSupported(QGemmPath::kAvx512Vnni) ? QGemmPath::kAvx512Vnni
                                : qgemmPathSupported(QGemmPath::kAvx2)     ? QGemmPath::kAvx2
                                                                           : QGemmPath::kReference;
  return best;
}

const char* qgemmPathName(QGemmPath path) {
  switch (path) {
    case QGemmPath::kAvx2:
      return "avx2";
    case QGemmPath::kAvx512Vnni:
      return "avx512vnni";
    default:
      return "reference";
  }
}

void qgemm(const QGemmArgs& g, int threads, QGemmPath path) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.K <= 0) {
    for (int64_t m = 0; m < g.M; ++m) std::fill(g.C + m * g.ldc, g.C + m * g.ldc + g.N, 0);
    return;
  }
  if (threads < 1) threads = 1;
  if (!qgemmPathSupported(path)) path = QGemmPath::kReference;
#ifdef NNC_QGEMM_X86
  if (path == QGemmPath::kAvx512Vnni) return vnniGemm(g, threads);
  if (path == QGemmPath::kAvx2) return avx2Gemm(g, threads);
#endif
  referenceGemm(g, threads);
}

}  // namespace nnc::ops

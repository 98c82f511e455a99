// Single-precision GEMM for the convolutions: C (M x N) = A (M x K) * B (K x N), all row-major,
// with an optional per-row bias. An AVX2/FMA 6x16 register-blocked micro-kernel over packed
// panels (A in 6-row strips, B in 16-column strips, K in blocks of 256 so a B block stays in
// L2), parallel over column blocks (and row strips for narrow outputs) when called outside a
// parallel region. Eigen's generic GEMM reached about 35-50 GFLOP/s per core on the conv shapes
// (M = 32..512, N = H*W large) on the AVX2 build machine, this kernel 55-75 (tools/bench/
// conv_bench). Without AVX2/FMA it falls back to Eigen.
#include <immintrin.h>
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "conv_kernels.h"

namespace nnc::ops::conv {
namespace {

constexpr int64_t kMr = 6, kNr = 16, kKc = 256, kNc = 384;

#if defined(__AVX2__) && defined(__FMA__)
// Grows (never shrinks) a reusable scratch buffer to at least n elements.
void growBuffer(std::vector<float>& buffer, int64_t n) {
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
}

// Packs rows [m0, m0+6) x cols [k0, k0+kc) of A as kc groups of 6 (zero rows past M).
void packA(const float* A, int64_t lda, int64_t M, int64_t m0, int64_t k0, int64_t kc, float* dst) {
  const int64_t rows = std::min(kMr, M - m0);
  for (int64_t k = 0; k < kc; ++k)
    for (int64_t r = 0; r < kMr; ++r) dst[k * kMr + r] = r < rows ? A[(m0 + r) * lda + k0 + k] : 0.0f;
}

// Packs rows [k0, k0+kc) x cols [n0, n0+16) of B as kc rows of 16 (zero columns past N).
void packB(const float* B, int64_t ldb, int64_t N, int64_t n0, int64_t k0, int64_t kc, float* dst) {
  const int64_t cols = std::min(kNr, N - n0);
  for (int64_t k = 0; k < kc; ++k) {
    const float* src = B + (k0 + k) * ldb + n0;
    float* d = dst + k * kNr;
    if (cols == kNr) {
      _mm256_storeu_ps(d, _mm256_loadu_ps(src));
      _mm256_storeu_ps(d + 8, _mm256_loadu_ps(src + 8));
    } else {
      for (int64_t j = 0; j < kNr; ++j) d[j] = j < cols ? src[j] : 0.0f;
    }
  }
}

// c[6][16] (+)= a (kc x 6) * b (kc x 16); `first` stores instead of accumulating (and adds bias).
void microKernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t rows, int64_t cols, bool first,
                 const float* bias) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b + k * kNr), b1 = _mm256_loadu_ps(b + k * kNr + 8);
    const float* ak = a + k * kMr;
    __m256 av = _mm256_broadcast_ss(ak + 0);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(ak + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(ak + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(ak + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(ak + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(ak + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  alignas(32) float tile[kMr][kNr];
  _mm256_store_ps(tile[0], c00), _mm256_store_ps(tile[0] + 8, c01);
  _mm256_store_ps(tile[1], c10), _mm256_store_ps(tile[1] + 8, c11);
  _mm256_store_ps(tile[2], c20), _mm256_store_ps(tile[2] + 8, c21);
  _mm256_store_ps(tile[3], c30), _mm256_store_ps(tile[3] + 8, c31);
  _mm256_store_ps(tile[4], c40), _mm256_store_ps(tile[4] + 8, c41);
  _mm256_store_ps(tile[5], c50), _mm256_store_ps(tile[5] + 8, c51);
  for (int64_t r = 0; r < rows; ++r) {
    float* crow = c + r * ldc;
    if (first) {
      const float bv = bias ? bias[r] : 0.0f;
      if (cols == kNr) {
        const __m256 bb = _mm256_set1_ps(bv);
        _mm256_storeu_ps(crow, _mm256_add_ps(_mm256_load_ps(tile[r]), bb));
        _mm256_storeu_ps(crow + 8, _mm256_add_ps(_mm256_load_ps(tile[r] + 8), bb));
      } else {
        for (int64_t j = 0; j < cols; ++j) crow[j] = tile[r][j] + bv;
      }
    } else if (cols == kNr) {
      _mm256_storeu_ps(crow, _mm256_add_ps(_mm256_loadu_ps(crow), _mm256_load_ps(tile[r])));
      _mm256_storeu_ps(crow + 8, _mm256_add_ps(_mm256_loadu_ps(crow + 8), _mm256_load_ps(tile[r] + 8)));
    } else {
      for (int64_t j = 0; j < cols; ++j) crow[j] += tile[r][j];
    }
  }
}
#endif

}  // namespace

void sgemmBias(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
               const float* bias) {
#if defined(__AVX2__) && defined(__FMA__)
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t m = 0; m < M; ++m) std::fill(C + m * ldc, C + m * ldc + N, bias ? bias[m] : 0.0f);
    return;
  }
  const int64_t m_strips = (M + kMr - 1) / kMr;
  const int64_t n_blocks = (N + kNc - 1) / kNc;
  // Packing buffers sized to this call and reused per thread: small GEMMs (the convs of batch-1
  // sequence models, grouped convs) would otherwise spend more time zero-filling a full-size
  // block buffer than multiplying.
  static thread_local std::vector<float> apack_buffer;
  const int64_t kc_max = std::min(kKc, K);
  growBuffer(apack_buffer, m_strips * kMr * kc_max);
  float* const apack = apack_buffer.data();
  // One parallel region per K block: worth it from ~8M MACs (each region costs a wake-up and a
  // barrier, tens of microseconds on a loaded machine).
  const bool parallel = !omp_in_parallel() && omp_get_max_threads() > 1 && double(M) * N * K > 8e6;
  // Too few column blocks for the threads (small images): also split the rows; each task packs
  // its own copy of the B block.
  const int64_t threads = parallel ? omp_get_max_threads() : 1;
  const int64_t m_chunks = n_blocks >= threads ? 1 : std::min(m_strips, (threads + n_blocks - 1) / n_blocks);
  for (int64_t k0 = 0; k0 < K; k0 += kKc) {
    const int64_t kc = std::min(kKc, K - k0);
    for (int64_t s = 0; s < m_strips; ++s) packA(A, lda, M, s * kMr, k0, kc, apack + s * kMr * kc);
    const bool first = k0 == 0;
#pragma omp parallel if (parallel)
    {
      static thread_local std::vector<float> bpack_buffer;
      growBuffer(bpack_buffer, std::min(kNc, (N + kNr - 1) / kNr * kNr) * kc_max);
      float* const bpack = bpack_buffer.data();
#pragma omp for schedule(static)
      for (int64_t task = 0; task < n_blocks * m_chunks; ++task) {
        const int64_t nb = task / m_chunks, mc = task % m_chunks;
        const int64_t n0 = nb * kNc, nc = std::min(kNc, N - n0);
        const int64_t panels = (nc + kNr - 1) / kNr;
        for (int64_t p = 0; p < panels; ++p) packB(B, ldb, N, n0 + p * kNr, k0, kc, bpack + p * kNr * kc);
        for (int64_t s = mc * m_strips / m_chunks; s < (mc + 1) * m_strips / m_chunks; ++s) {
          const int64_t rows = std::min(kMr, M - s * kMr);
          for (int64_t p = 0; p < panels; ++p) {
            const int64_t col = n0 + p * kNr;
            microKernel(kc, apack + s * kMr * kc, bpack + p * kNr * kc, C + s * kMr * ldc + col, ldc, rows,
                        std::min(kNr, N - col), first, bias ? bias + s * kMr : nullptr);
          }
        }
      }
    }
  }
#else
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const RowMat, 0, Eigen::OuterStride<>> a(A, M, K, Eigen::OuterStride<>(lda));
  Eigen::Map<const RowMat, 0, Eigen::OuterStride<>> b(B, K, N, Eigen::OuterStride<>(ldb));
  Eigen::Map<RowMat, 0, Eigen::OuterStride<>> c(C, M, N, Eigen::OuterStride<>(ldc));
  c.noalias() = a * b;
  if (bias)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) C[m * ldc + n] += bias[m];
#endif
}

}  // namespace nnc::ops::conv

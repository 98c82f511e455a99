// Matrix products shared by the linalg family (MatMul, Gemm, Einsum): one row-major GEMM through
// Eigen, and a batched GEMM that picks between threading the batch loop and threading each product.
#pragma once

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "op_util.h"

namespace nnc::ops::linalg {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// C = alpha * A * B + beta * C for Eigen expressions (beta == 0: C is only written). With
// threads > 1 and enough work, C is cut into `threads` independent row or column panels, each a
// single-threaded Eigen GEMM: one barrier in all, where Eigen's own threaded GEMM spin-waits on
// shared packed blocks many times per product (ruinous when cores are shared or oversubscribed).
template <typename T, typename EA, typename EB, typename EC>
void gemmExpr(const EA& A, const EB& B, T alpha, T beta, EC& C, int threads) {
  const int64_t M = C.rows(), N = C.cols(), K = A.cols();
  auto run = [&](int64_t r0, int64_t rn, int64_t c0, int64_t cn) {
    auto Cb = C.block(r0, c0, rn, cn);
    if (beta == T(0)) {
      Cb.noalias() = alpha * (A.middleRows(r0, rn) * B.middleCols(c0, cn));
    } else {
      if (beta != T(1)) Cb *= beta;
      Cb.noalias() += alpha * (A.middleRows(r0, rn) * B.middleCols(c0, cn));
    }
  };
  const double macs = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const bool split_rows = M >= N;
  const int64_t extent = split_rows ? M : N;
  const int64_t grain = split_rows ? 8 : 32;  // panel edges on multiples of the kernel's tile sizes
  const int parts = static_cast<int>(std::min<int64_t>(threads, extent / grain));
  if (parts <= 1 || macs < (1 << 20) || omp_in_parallel()) {
    // Eigen threads products from ~100k MACs on (omp_get_max_threads() threads); keep it to
    // this thread. nthreads-var is per thread, so this touches no other thread's setting.
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    run(0, M, 0, N);
    omp_set_num_threads(saved);
    return;
  }
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int p = 0; p < parts; ++p) {
    // Panel p of `parts`, boundaries rounded to the grain.
    const int64_t chunks = (extent + grain - 1) / grain;
    const int64_t b0 = std::min(extent, chunks * p / parts * grain), b1 = std::min(extent, chunks * (p + 1) / parts * grain);
    if (b1 <= b0) continue;
    if (split_rows) run(b0, b1 - b0, 0, N);
    else run(0, M, b0, b1 - b0);
  }
}

// c (M x N) = alpha * op(a) * op(b) + beta * c, all row-major and contiguous. op(a) is M x K:
// a is stored M x K, or K x M when trans_a (likewise b: K x N, or N x K when trans_b).
// With beta == 0, c is only written (it may be uninitialized).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* a, const T* b, T beta, T* c,
          int threads = 1) {
  using Map = Eigen::Map<const RowMatrix<T>>;
  Eigen::Map<RowMatrix<T>> C(c, M, N);
  if (M == 0 || N == 0) return;
  if (K == 0) {  // an empty sum: Eigen's handling of 0-deep products is not something to rely on
    if (beta == T(0)) C.setZero();
    else C *= beta;
    return;
  }
  // Separate branches so Eigen sees the transposes statically (no copies of a or b).
  if (!trans_a && !trans_b) gemmExpr(Map(a, M, K), Map(b, K, N), alpha, beta, C, threads);
  else if (trans_a && !trans_b) gemmExpr(Map(a, K, M).transpose(), Map(b, K, N), alpha, beta, C, threads);
  else if (!trans_a && trans_b) gemmExpr(Map(a, M, K), Map(b, N, K).transpose(), alpha, beta, C, threads);
  else gemmExpr(Map(a, K, M).transpose(), Map(b, N, K).transpose(), alpha, beta, C, threads);
}

// count products c[i] = op(a + a_off[i]) * op(b + b_off[i]) (element offsets), c[i] at i*M*N.
// Small products run one per thread; large ones run in sequence, each split into panels.
template <typename T>
void batchedGemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* a, const std::vector<int64_t>& a_off,
                 const T* b, const std::vector<int64_t>& b_off, T* c, int threads) {
  const int64_t count = static_cast<int64_t>(a_off.size());
  const double macs = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  // Threading the batch needs no synchronization inside a product; it wins unless there are too
  // few products to share out evenly and each is big enough to split well.
  const bool batch_parallel = threads > 1 && count > 1 && (count >= 4 * threads || macs < (1 << 21)) && macs * count > 1e6;
  if (batch_parallel) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t i = 0; i < count; ++i) gemm<T>(trans_a, trans_b, M, N, K, T(1), a + a_off[i], b + b_off[i], T(0), c + i * M * N);
  } else {
    for (int64_t i = 0; i < count; ++i)
      gemm<T>(trans_a, trans_b, M, N, K, T(1), a + a_off[i], b + b_off[i], T(0), c + i * M * N, threads);
  }
}

// Calls fn(T{}) for the types MatMul and Gemm take (after float16/bfloat16 became float32).
template <typename F>
bool dispatchGemmTypes(DType dtype, F&& fn) {
  switch (dtype) {
    case DType::kFloat: fn(float{}); return true;
    case DType::kDouble: fn(double{}); return true;
    case DType::kInt32: fn(int32_t{}); return true;
    case DType::kInt64: fn(int64_t{}); return true;
    case DType::kUInt32: fn(uint32_t{}); return true;
    case DType::kUInt64: fn(uint64_t{}); return true;
    default: return false;
  }
}

}  // namespace nnc::ops::linalg

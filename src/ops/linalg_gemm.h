// Matrix products shared by the linalg family (MatMul, Gemm, Einsum): one row-major GEMM through
// Eigen, and a batched GEMM that picks between threading the batch loop and threading each product.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "op_util.h"

namespace nnc::ops::linalg {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// c (M x N) = alpha * op(a) * op(b) + beta * c, all row-major and contiguous. op(a) is M x K:
// a is stored M x K, or K x M when trans_a (likewise b: K x N, or N x K when trans_b).
// With beta == 0, c is only written (it may be uninitialized).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* a, const T* b, T beta, T* c) {
  using Map = Eigen::Map<const RowMatrix<T>>;
  Eigen::Map<RowMatrix<T>> C(c, M, N);
  if (M == 0 || N == 0) return;
  if (K == 0) {  // an empty sum: Eigen's handling of 0-deep products is not something to rely on
    if (beta == T(0)) C.setZero();
    else C *= beta;
    return;
  }
  if (beta == T(0)) {
    // Separate branches so Eigen sees the transposes statically (no copies of a or b); alpha is
    // folded into Eigen's GEMM call.
    if (!trans_a && !trans_b) C.noalias() = alpha * (Map(a, M, K) * Map(b, K, N));
    else if (trans_a && !trans_b) C.noalias() = alpha * (Map(a, K, M).transpose() * Map(b, K, N));
    else if (!trans_a && trans_b) C.noalias() = alpha * (Map(a, M, K) * Map(b, N, K).transpose());
    else C.noalias() = alpha * (Map(a, K, M).transpose() * Map(b, N, K).transpose());
    return;
  }
  if (beta != T(1)) C *= beta;
  if (!trans_a && !trans_b) C.noalias() += alpha * (Map(a, M, K) * Map(b, K, N));
  else if (trans_a && !trans_b) C.noalias() += alpha * (Map(a, K, M).transpose() * Map(b, K, N));
  else if (!trans_a && trans_b) C.noalias() += alpha * (Map(a, M, K) * Map(b, N, K).transpose());
  else C.noalias() += alpha * (Map(a, K, M).transpose() * Map(b, N, K).transpose());
}

// count products c[i] = op(a + a_off[i]) * op(b + b_off[i]) (element offsets), c[i] at i*M*N.
// Small products run one per thread (Eigen single-threaded inside an OpenMP region); large
// ones run in sequence, each threaded by Eigen.
template <typename T>
void batchedGemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* a, const std::vector<int64_t>& a_off,
                 const T* b, const std::vector<int64_t>& b_off, T* c, int threads) {
  const int64_t count = static_cast<int64_t>(a_off.size());
  const double macs = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  // Threading the batch has no synchronization inside a product; it wins unless there are too
  // few products to share out evenly and each is big enough for Eigen to split well.
  const bool batch_parallel = threads > 1 && count > 1 && (count >= 4 * threads || macs < (1 << 21)) && macs * count > 1e5;
  if (batch_parallel) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t i = 0; i < count; ++i) gemm<T>(trans_a, trans_b, M, N, K, T(1), a + a_off[i], b + b_off[i], T(0), c + i * M * N);
  } else {
    for (int64_t i = 0; i < count; ++i) gemm<T>(trans_a, trans_b, M, N, K, T(1), a + a_off[i], b + b_off[i], T(0), c + i * M * N);
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

// Integer GEMM for the quantized ops: C[m,n] = sum_k (A[m,k] - za[m]) * (B[k,n]
// - zb[n]) with int8/uint8 operands and int32 accumulation (wrapping mod 2^32
// like the hardware), plus the requantization step (int32 -> float scale ->
// round half to even -> saturate) that ONNX Runtime (MLAS) applies. Paths: a
// portable reference loop, AVX2 (vpmaddwd on 16-bit operands: exact, no
// vpmaddubsw saturation) and AVX-512 VNNI (vpdpbusd: u8 x s8 quads, with the
// +128 shift of signed activations / -128 shift of unsigned weights corrected
// through row and column sums, as MLAS does). The best path is picked at run
// time (__builtin_cpu_supports).
#pragma once

#include <cstdint>

namespace nnc::ops {

enum class QGemmPath { kReference, kAvx2, kAvx512Vnni };

struct QGemmArgs {
  int64_t M = 0, N = 0, K = 0;
  const uint8_t* A = nullptr;  // M x K, row stride lda (bytes)
  int64_t lda = 0;
  bool a_signed = false;
  const uint8_t* B = nullptr;  // K x N, row stride ldb (bytes)
  int64_t ldb = 0;
  bool b_signed = false;
  // Zero points: a per row (M values) when a_zp_per_row, else a_zp[0]; b per
  // column likewise.
  const int32_t* a_zp = nullptr;
  bool a_zp_per_row = false;
  const int32_t* b_zp = nullptr;
  bool b_zp_per_col = false;
  int32_t* C = nullptr;  // M x N, row stride ldc (elements)
  int64_t ldc = 0;
};

// The fastest path this CPU supports.
QGemmPath bestQGemmPath();
// Whether a path can run on this CPU.
bool qgemmPathSupported(QGemmPath path);
const char* qgemmPathName(QGemmPath path);

// Runs the GEMM on `threads` OpenMP threads with the given path (falls back to
// the reference when the path is not supported here).
void qgemm(const QGemmArgs& args, int threads, QGemmPath path);
inline void qgemm(const QGemmArgs& args, int threads) { qgemm(args, threads, bestQGemmPath()); }

// Requantizes int32 values: y = saturate(round_half_even(float(acc) * scale) +
// zp), as MLAS's MlasRequantizeOutput (the clamp happens in float before the
// rounding conversion).
template <typename T>
inline T requantizeOne(int32_t acc, float scale, int32_t zp, float lo, float hi) {
  float v = static_cast<float>(acc) * scale;
  v = v > lo ? v : lo;  // NaN -> lo, like maxps(v, lo)
  v = v < hi ? v : hi;
  return static_cast<T>(static_cast<int32_t>(__builtin_nearbyintf(v)) + zp);
}

}  // namespace nnc::ops

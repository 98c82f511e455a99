// The u8 x s8 GEMM of the fused QDQ kernels (src/ops/qgemm_u8s8.h) against plain integer loops:
// both layouts (MatMul rows x weight panels, Conv weight tiles x im2col columns), shapes that are
// not multiples of the tile sizes, uint8 and int8 activations with zero points, groups, the
// requantized and the float outputs, and the refusal to pack weights outside [-64, 64].
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/qgemm.h"
#include "ops/qgemm_u8s8.h"

namespace nnc::ops {
namespace {

uint32_t nextRandom(uint32_t& s) {
  s = s * 1664525u + 1013904223u;
  return s >> 8;
}

TEST(QGemmU8S8, RefusesWeightsThatCouldSaturate) {
  if (!u8s8Supported()) GTEST_SKIP() << "no AVX2";
  std::vector<int8_t> w(3 * 5, 64);
  EXPECT_NE(packU8S8Weights(w.data(), 3, 5, 5, 1, WeightRole::kPanel).dtype, DType::kUndefined);
  w[7] = 65;
  EXPECT_EQ(packU8S8Weights(w.data(), 3, 5, 5, 1, WeightRole::kPanel).dtype, DType::kUndefined);
  w[7] = -65;
  EXPECT_EQ(packU8S8Weights(w.data(), 3, 5, 5, 1, WeightRole::kBroadcast).dtype, DType::kUndefined);
}

// y[m, n] = requantize(sum_k (x[m,k] - zx) * w[k, n] + bias[n]) for MatMul-style rows; and the
// float output (acc + bias) * scale.
TEST(QGemmU8S8, RowsMatchReferenceLoops) {
  if (!u8s8Supported()) GTEST_SKIP() << "no AVX2";
  uint32_t s = 99;
  for (bool x_signed : {false, true})
    for (int64_t M : {1, 3, 4, 9})
      for (int64_t N : {5, 16, 37})
        for (int64_t K : {1, 7, 64, 130}) {
          std::vector<uint8_t> x(static_cast<size_t>(M * K));
          for (auto& v : x) v = static_cast<uint8_t>(nextRandom(s));
          std::vector<int8_t> w(static_cast<size_t>(K * N));  // [K, N]
          for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(nextRandom(s) % 129) - 64);
          const int32_t zx = x_signed ? -7 : 131;
          std::vector<int32_t> bias(static_cast<size_t>(N));
          std::vector<float> scale(static_cast<size_t>(N));
          for (int64_t n = 0; n < N; ++n) {
            bias[n] = static_cast<int32_t>(nextRandom(s) % 2001) - 1000;
            scale[n] = 0.0005f * static_cast<float>(1 + n % 5);
          }
          Tensor packed = packU8S8Weights(w.data(), N, K, 1, N, WeightRole::kPanel);
          auto view = viewPackedWeights(packed);
          ASSERT_TRUE(view.has_value());
          const int32_t zx_shifted = zx + (x_signed ? 128 : 0);
          std::vector<int32_t> offset(static_cast<size_t>(N));
          for (int64_t n = 0; n < N; ++n) offset[n] = bias[n] - zx_shifted * view->sums[n];
          for (DType out_type : {DType::kUInt8, DType::kFloat}) {
            std::vector<uint8_t> yq(static_cast<size_t>(M * N));
            std::vector<float> yf(static_cast<size_t>(M * N));
            U8S8Output o;
            o.offset = offset.data();
            o.scale = scale.data();
            o.out_type = out_type;
            o.zp = 20;
            o.lo = -20;
            o.hi = 235;
            o.out = out_type == DType::kFloat ? static_cast<void*>(yf.data()) : static_cast<void*>(yq.data());
            o.ldo = N;
            u8s8GemmRows(x.data(), M, K, x_signed, *view, o, 2);
            for (int64_t m = 0; m < M; ++m)
              for (int64_t n = 0; n < N; ++n) {
                int32_t acc = bias[n];
                for (int64_t k = 0; k < K; ++k) {
                  const int32_t xv = x_signed ? static_cast<int8_t>(x[m * K + k]) : x[m * K + k];
                  acc += (xv - zx) * w[k * N + n];
                }
                const float f = static_cast<float>(acc) * scale[n];
                if (out_type == DType::kFloat) {
                  ASSERT_EQ(yf[m * N + n], f) << M << "x" << N << "x" << K << " at " << m << "," << n;
                } else {
                  ASSERT_EQ(yq[m * N + n], requantizeOne<uint8_t>(acc, scale[n], 20, -20.0f, 235.0f))
                      << M << "x" << N << "x" << K << " at " << m << "," << n;
                }
              }
          }
        }
}

// Conv layout: y[c, p] = requantize(sum_k w[c, k] * (col[k, p] - zx) + bias[c]), per group.
TEST(QGemmU8S8, BroadcastMatchesReferenceLoops) {
  if (!u8s8Supported()) GTEST_SKIP() << "no AVX2";
  uint32_t s = 7;
  for (int64_t groups : {1, 2})
    for (int64_t Mg : {1, 5, 8})
      for (int64_t N : {3, 16, 50})
        for (int64_t K : {9, 32, 75}) {
          const int64_t M = groups * Mg;
          std::vector<int8_t> w(static_cast<size_t>(M * K));  // [M, K]
          for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(nextRandom(s) % 129) - 64);
          Tensor packed = packU8S8Weights(w.data(), M, K, K, 1, WeightRole::kBroadcast, groups);
          auto view = viewPackedWeights(packed);
          ASSERT_TRUE(view.has_value());
          const int32_t zx = 100;
          std::vector<int32_t> offset(static_cast<size_t>(M));
          std::vector<float> scale(static_cast<size_t>(M));
          for (int64_t c = 0; c < M; ++c) {
            offset[c] = 17 * static_cast<int32_t>(c) - zx * view->sums[c];
            scale[c] = 0.001f * static_cast<float>(1 + c % 3);
          }
          for (int64_t g = 0; g < groups; ++g) {
            std::vector<uint8_t> col(static_cast<size_t>(K * N));
            for (auto& v : col) v = static_cast<uint8_t>(nextRandom(s));
            std::vector<int8_t> y(static_cast<size_t>(Mg * N));
            U8S8Output o;
            o.offset = offset.data() + g * Mg;
            o.scale = scale.data() + g * Mg;
            o.out_type = DType::kInt8;
            o.zp = -3;
            o.lo = -125;
            o.hi = 130;
            o.out = y.data();
            o.ldo = N;
            u8s8GemmBroadcast(*view, g, col.data(), N, o, 2);
            for (int64_t c = 0; c < Mg; ++c)
              for (int64_t p = 0; p < N; ++p) {
                const int64_t gc = g * Mg + c;
                int32_t acc = 17 * static_cast<int32_t>(gc);
                for (int64_t k = 0; k < K; ++k) acc += w[gc * K + k] * (col[k * N + p] - zx);
                ASSERT_EQ(y[c * N + p], requantizeOne<int8_t>(acc, scale[gc], -3, -125.0f, 130.0f))
                    << groups << "/" << Mg << "x" << N << "x" << K << " at " << c << "," << p;
              }
          }
        }
}

}  // namespace
}  // namespace nnc::ops

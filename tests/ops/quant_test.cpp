// Quantization kernels: rounding ties and saturation of QuantizeLinear,
// per-axis and block-wise (opset 21) parameters, int16 and int4 types,
// DynamicQuantizeLinear, and the integer GEMM: every SIMD path this CPU
// supports must equal the scalar reference bit for bit, and MatMulInteger /
// ConvInteger / QLinearConv must equal naive loops on random data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "onnx/proto_util.h"
#include "ops/qgemm.h"
#include "test_util.h"

namespace nnc {
namespace {

Expected<std::vector<Tensor>> runText(const char* text, const NamedTensors& inputs, int threads = 1) {
  onnx::ModelProto proto = test::parseText(text);
  auto model = importModel(proto, "");
  if (!model) return model.status();
  auto session = Session::create(*model, {threads, nullptr});
  if (!session) return session.status();
  return (*session)->run(inputs);
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  const T* p = t.dataAs<T>();
  return std::vector<T>(p, p + t.elementCount());
}

Tensor f32(std::vector<int64_t> shape, std::vector<float> v) {
  return Tensor::fromValues<float>(DType::kFloat, shape, v);
}
Tensor u8(std::vector<int64_t> shape, std::vector<uint8_t> v) {
  return Tensor::fromValues<uint8_t>(DType::kUInt8, shape, v);
}
Tensor i8(std::vector<int64_t> shape, std::vector<int8_t> v) {
  return Tensor::fromValues<int8_t>(DType::kInt8, shape, v);
}

TEST(QuantOps, QuantizeRoundsHalfToEvenAndSaturates) {
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[10] x, float s, int8 z) => (int8[10] y) { y = QuantizeLinear(x, s, z) }
)";
  auto out = runText(text, {{"x", f32({10}, {2.5f, 3.5f, -2.5f, -3.5f, 0.5f, 1.5f, -0.5f, 300.f, -300.f, 2.4999f})},
                            {"s", f32({}, {1.0f})},
                            {"z", i8({}, {0})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(values<int8_t>((*out)[0]), (std::vector<int8_t>{2, 4, -2, -4, 0, 2, 0, 127, -128, 2}));
  // uint8 with zero point 10: the rounding happens before the zero point is
  // added.
  const char* text_u8 = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[5] x, float s, uint8 z) => (uint8[5] y) { y = QuantizeLinear(x, s, z) }
)";
  out = runText(text_u8,
                {{"x", f32({5}, {1.0f, 3.0f, -25.0f, -20.0f, 1000.0f})}, {"s", f32({}, {2.0f})}, {"z", u8({}, {10})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]),
            (std::vector<uint8_t>{10, 12, 0, 0, 255}));  // 0.5->0, 1.5->2, -12.5->-12 -> sat
}

TEST(QuantOps, QuantizeDefaultsToUint8WithoutZeroPoint) {
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3] x, float s) => (uint8[3] y) { y = QuantizeLinear(x, s) }
)",
                     {{"x", f32({3}, {-1.0f, 6.5f, 7.5f})}, {"s", f32({}, {1.0f})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].dtype, DType::kUInt8);
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{0, 6, 8}));
}

TEST(QuantOps, PerAxisWithNegativeAxis) {
  auto out =
      runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] x, float[3] s, uint8[3] z) => (uint8[2,3] y) { y = QuantizeLinear<axis = -1>(x, s, z) }
)",
              {{"x", f32({2, 3}, {1, 2, 3, 4, 5, 6})}, {"s", f32({3}, {1, 2, 4})}, {"z", u8({3}, {0, 10, 100})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  // column scales 1, 2, 4: 1, 1+10, 0.75->1 +100 | 4, 2.5->2 +10, 1.5->2 +100
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{1, 11, 101, 4, 12, 102}));
  auto dq = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (uint8[2,3] x, float[2] s, uint8[2] z) => (float[2,3] y) { y = DequantizeLinear<axis = 0>(x, s, z) }
)",
                    {{"x", u8({2, 3}, {0, 1, 2, 10, 20, 30})}, {"s", f32({2}, {0.5f, 2.0f})}, {"z", u8({2}, {1, 20})}});
  ASSERT_TRUE(dq.isOk()) << dq.status().message();
  EXPECT_EQ(values<float>((*dq)[0]), (std::vector<float>{-0.5f, 0.0f, 0.5f, -20.0f, 0.0f, 20.0f}));
}

TEST(QuantOps, BlockWiseOpset21) {
  // x [2,5], blocks of 2 along axis 1 -> 3 blocks per row (the last one short).
  auto out = runText(R"(
<ir_version: 10, opset_import: ["" : 21]>
g (float[2,5] x, float[2,3] s, int8[2,3] z) => (int8[2,5] y) { y = QuantizeLinear<axis = 1, block_size = 2>(x, s, z) }
)",
                     {{"x", f32({2, 5}, {1, 2, 3, 4, 5, 10, 20, 30, 40, 50})},
                      {"s", f32({2, 3}, {1, 2, 4, 10, 0.1f, 1})},
                      {"z", i8({2, 3}, {0, 1, -1, 0, 0, 5})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  // row 0: 1/1, 2/1, 3/2=1.5->2 +1, 4/2 +1, 5/4=1.25->1 -1; row 1: 10/10,
  // 20/10, 30/.1 sat, 40/.1 sat, 50/1+5
  EXPECT_EQ(values<int8_t>((*out)[0]), (std::vector<int8_t>{1, 2, 3, 3, 0, 1, 2, 127, 127, 55}));
  auto dq = runText(R"(
<ir_version: 10, opset_import: ["" : 21]>
g (int8[2,4] x, float[1,4] s) => (float[2,4] y) { y = DequantizeLinear<axis = 0, block_size = 3>(x, s) }
)",
                    {{"x", i8({2, 4}, {1, 2, 3, 4, -1, -2, -3, -4})}, {"s", f32({1, 4}, {1, 2, 3, 4})}});
  ASSERT_TRUE(dq.isOk()) << dq.status().message();
  EXPECT_EQ(values<float>((*dq)[0]), (std::vector<float>{1, 4, 9, 16, -1, -4, -9, -16}));
  // A block-wise scale of the wrong shape is a model error, not a crash.
  auto bad = runText(R"(
<ir_version: 10, opset_import: ["" : 21]>
g (float[2,5] x, float[2,2] s) => (uint8[2,5] y) { y = QuantizeLinear<axis = 1, block_size = 2>(x, s) }
)",
                     {{"x", f32({2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})}, {"s", f32({2, 2}, {1, 1, 1, 1})}});
  EXPECT_FALSE(bad.isOk());
}

TEST(QuantOps, Int16AndInt4Opset21) {
  auto out = runText(R"(
<ir_version: 10, opset_import: ["" : 21]>
g (float[4] x, float s, int16 z) => (int16[4] y) { y = QuantizeLinear(x, s, z) }
)",
                     {{"x", f32({4}, {1e6f, -1e6f, 2.5f, 1000.5f})},
                      {"s", f32({}, {1.0f})},
                      {"z", Tensor::fromValues<int16_t>(DType::kInt16, {}, {0})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(values<int16_t>((*out)[0]), (std::vector<int16_t>{32767, -32768, 2, 1000}));
  // int4 (output_dtype = 22): saturates to [-8, 7], packed two per byte; read
  // back through DQ.
  out = runText(R"(
<ir_version: 10, opset_import: ["" : 21]>
g (float[5] x, float s) => (float[5] y) { q = QuantizeLinear<output_dtype = 22>(x, s) y = DequantizeLinear(q, s) }
)",
                {{"x", f32({5}, {-20.0f, -7.5f, 6.5f, 7.5f, 100.0f})}, {"s", f32({}, {1.0f})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{-8, -8, 6, 7, 7}));
}

TEST(QuantOps, DynamicQuantizeLinearIncludesZero) {
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] x) => (uint8[4] y, float s, uint8 z) { y, s, z = DynamicQuantizeLinear(x) }
)",
                     {{"x", f32({4}, {1.0f, 2.0f, 5.1f, 2.55f})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_FLOAT_EQ(values<float>((*out)[1])[0],
                  5.1f / 255.0f);  // min raised to 0
  EXPECT_EQ(values<uint8_t>((*out)[2])[0], 0);
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{50, 100, 255, 128}));  // 127.5 -> 128 (even)
  out = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] x) => (uint8[2] y, float s, uint8 z) { y, s, z = DynamicQuantizeLinear(x) }
)",
                {{"x", f32({2}, {0.0f, 0.0f})}});
  ASSERT_TRUE(out.isOk());
  EXPECT_EQ(values<float>((*out)[1])[0], 1.0f);  // max == min -> scale 1
}

// ---- integer GEMM
// ---------------------------------------------------------------------------

TEST(QGemm, AllPathsMatchReferenceBitExactly) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255), small(1, 40);
  std::vector<ops::QGemmPath> paths{ops::QGemmPath::kAvx2, ops::QGemmPath::kAvx512Vnni};
  int tested = 0;
  for (int iter = 0; iter < 60; ++iter) {
    const int64_t M = small(rng), N = small(rng) + (iter % 3) * 17, K = small(rng) + (iter % 4) * 29;
    const int64_t lda = K + iter % 3, ldb = N + iter % 2, ldc = N + iter % 5;
    std::vector<uint8_t> A(M * lda), B(K * ldb);
    for (auto& v : A) v = static_cast<uint8_t>(byte(rng));
    for (auto& v : B) v = static_cast<uint8_t>(byte(rng));
    for (int signs = 0; signs < 4; ++signs) {
      ops::QGemmArgs g;
      g.M = M;
      g.N = N;
      g.K = K;
      g.A = A.data();
      g.lda = lda;
      g.B = B.data();
      g.ldb = ldb;
      g.ldc = ldc;
      g.a_signed = signs & 1;
      g.b_signed = signs & 2;
      auto zp = [&](bool s) { return s ? byte(rng) - 128 : byte(rng); };
      std::vector<int32_t> za(M), zb(N);
      for (auto& z : za) z = zp(g.a_signed);
      for (auto& z : zb) z = zp(g.b_signed);
      g.a_zp = za.data();
      g.a_zp_per_row = iter % 2;
      g.b_zp = zb.data();
      g.b_zp_per_col = iter % 3 != 0;
      std::vector<int32_t> ref(M * ldc, -7);
      g.C = ref.data();
      ops::qgemm(g, 1, ops::QGemmPath::kReference);
      // The reference itself against a plain int64 triple loop.
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          int64_t s = 0;
          for (int64_t k = 0; k < K; ++k) {
            const int64_t a = g.a_signed ? int8_t(A[m * lda + k]) : A[m * lda + k];
            const int64_t b = g.b_signed ? int8_t(B[k * ldb + n]) : B[k * ldb + n];
            s += (a - za[g.a_zp_per_row ? m : 0]) * (b - zb[g.b_zp_per_col ? n : 0]);
          }
          ASSERT_EQ(ref[m * ldc + n], s);
        }
      for (auto path : paths) {
        if (!ops::qgemmPathSupported(path)) continue;
        for (int threads : {1, 2}) {
          std::vector<int32_t> got(M * ldc, -7);
          g.C = got.data();
          ops::qgemm(g, threads, path);
          ASSERT_EQ(got, ref) << ops::qgemmPathName(path) << " M=" << M << " N=" << N << " K=" << K
                              << " signs=" << signs;
          ++tested;
        }
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no SIMD path on this CPU";
  std::printf("QGemm: compared %d SIMD runs (vnni supported: %d)\n", tested,
              int(ops::qgemmPathSupported(ops::QGemmPath::kAvx512Vnni)));
}

TEST(QGemm, LargeShapesMatchReference) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  const int64_t M = 97, N = 131, K = 1153;
  std::vector<uint8_t> A(M * K), B(K * N);
  for (auto& v : A) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : B) v = static_cast<uint8_t>(byte(rng));
  int32_t za = 3, zb = 250;
  ops::QGemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  g.A = A.data();
  g.lda = K;
  g.B = B.data();
  g.ldb = N;
  g.ldc = N;
  g.a_zp = &za;
  g.b_zp = &zb;
  std::vector<int32_t> ref(M * N), got(M * N);
  g.C = ref.data();
  ops::qgemm(g, 2, ops::QGemmPath::kReference);
  g.C = got.data();
  ops::qgemm(g, 2);
  EXPECT_EQ(got, ref) << ops::qgemmPathName(ops::bestQGemmPath());
}

// ---- MatMulInteger / ConvInteger / QLinearConv against naive loops
// ---------------------------

TEST(QuantOps, MatMulIntegerBatchedPerColumnZeroPoint) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<int8_t> a(2 * 3 * 4);
  std::vector<uint8_t> b(4 * 5), bz(5);
  for (auto& v : a) v = static_cast<int8_t>(byte(rng) - 128);
  for (auto& v : b) v = static_cast<uint8_t>(byte(rng));
  for (auto& v : bz) v = static_cast<uint8_t>(byte(rng));
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int8[2,3,4] a, uint8[4,5] b, int8 az, uint8[5] bz) => (int32[2,3,5] y) { y = MatMulInteger(a, b, az, bz) }
)",
                     {{"a", i8({2, 3, 4}, a)}, {"b", u8({4, 5}, b)}, {"az", i8({}, {-3})}, {"bz", u8({5}, bz)}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  auto y = values<int32_t>((*out)[0]);
  for (int r = 0; r < 6; ++r)
    for (int n = 0; n < 5; ++n) {
      int32_t s = 0;
      for (int k = 0; k < 4; ++k) s += (a[r * 4 + k] + 3) * (b[k * 5 + n] - bz[n]);
      EXPECT_EQ(y[r * 5 + n], s) << r << "," << n;
    }
}

struct ConvCase {
  int64_t N, C, H, W, M, kh, kw, sh, sw, ph, pw, dh, dw, group;
};

// Naive ConvInteger with symmetric pads; returns int32 [N, M, OH, OW].
template <typename X, typename Wt>
std::vector<int32_t> naiveConv(const ConvCase& c, const std::vector<X>& x, const std::vector<Wt>& w, int32_t xz,
                               const std::vector<int32_t>& wz, int64_t* oh, int64_t* ow) {
  *oh = (c.H + 2 * c.ph - ((c.kh - 1) * c.dh + 1)) / c.sh + 1;
  *ow = (c.W + 2 * c.pw - ((c.kw - 1) * c.dw + 1)) / c.sw + 1;
  const int64_t Cg = c.C / c.group, Mg = c.M / c.group;
  std::vector<int32_t> y(c.N * c.M * *oh * *ow);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t i = 0; i < *oh; ++i)
        for (int64_t j = 0; j < *ow; ++j) {
          int32_t s = 0;
          const int64_t g = m / Mg;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t ki = 0; ki < c.kh; ++ki)
              for (int64_t kj = 0; kj < c.kw; ++kj) {
                const int64_t yy = i * c.sh - c.ph + ki * c.dh, xx = j * c.sw - c.pw + kj * c.dw;
                const int32_t xv = (yy < 0 || yy >= c.H || xx < 0 || xx >= c.W)
                                       ? xz
                                       : x[((n * c.C + g * Cg + ci) * c.H + yy) * c.W + xx];
                s += (xv - xz) * (w[((m * Cg + ci) * c.kh + ki) * c.kw + kj] - wz[wz.size() == 1 ? 0 : m]);
              }
          y[((n * c.M + m) * *oh + i) * *ow + j] = s;
        }
  return y;
}

std::vector<int64_t> ints(std::initializer_list<int64_t> v) { return v; }

TEST(QuantOps, ConvIntegerMatchesNaiveLoops) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255);
  const ConvCase cases[] = {
      {1, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},   {2, 4, 8, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2},
      {1, 4, 9, 7, 4, 3, 2, 1, 2, 2, 0, 2, 1, 4},   {1, 8, 5, 5, 16, 1, 1, 1, 1, 0, 0, 1, 1, 1},
      {1, 6, 11, 13, 9, 5, 3, 3, 1, 2, 1, 1, 2, 3},
  };
  for (const ConvCase& c : cases) {
    std::vector<uint8_t> x(c.N * c.C * c.H * c.W);
    std::vector<uint8_t> w(c.M * (c.C / c.group) * c.kh * c.kw);
    for (auto& v : x) v = static_cast<uint8_t>(byte(rng));
    for (auto& v : w) v = static_cast<uint8_t>(byte(rng));
    std::vector<uint8_t> wz(c.M);
    for (auto& v : wz) v = static_cast<uint8_t>(byte(rng));
    const uint8_t xz = static_cast<uint8_t>(byte(rng));
    std::vector<int32_t> wz32(wz.begin(), wz.end());
    int64_t oh = 0, ow = 0;
    auto expected = naiveConv(c, x, w, xz, wz32, &oh, &ow);
    std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\ng (uint8[" + std::to_string(c.N) + "," +
                       std::to_string(c.C) + "," + std::to_string(c.H) + "," + std::to_string(c.W) + "] x, uint8[" +
                       std::to_string(c.M) + "," + std::to_string(c.C / c.group) + "," + std::to_string(c.kh) + "," +
                       std::to_string(c.kw) + "] w, uint8 xz, uint8[" + std::to_string(c.M) + "] wz) => (int32[" +
                       std::to_string(c.N) + "," + std::to_string(c.M) + "," + std::to_string(oh) + "," +
                       std::to_string(ow) + "] y) { y = ConvInteger<strides = [" + std::to_string(c.sh) + "," +
                       std::to_string(c.sw) + "], pads = [" + std::to_string(c.ph) + "," + std::to_string(c.pw) + "," +
                       std::to_string(c.ph) + "," + std::to_string(c.pw) + "], dilations = [" + std::to_string(c.dh) +
                       "," + std::to_string(c.dw) + "], group = " + std::to_string(c.group) + ">(x, w, xz, wz) }";
    for (int threads : {1, 2}) {
      auto out = runText(text.c_str(),
                         {{"x", u8(ints({c.N, c.C, c.H, c.W}), x)},
                          {"w", u8(ints({c.M, c.C / c.group, c.kh, c.kw}), w)},
                          {"xz", u8({}, {xz})},
                          {"wz", u8(ints({c.M}), wz)}},
                         threads);
      ASSERT_TRUE(out.isOk()) << out.status().message();
      EXPECT_EQ(values<int32_t>((*out)[0]), expected) << text;
    }
  }
}

TEST(QuantOps, QLinearConvPerChannelRequantization) {
  // 1x1 conv, 2 output channels with their own weight scales, int32 bias, int8
  // output.
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (uint8[1,1,1,4] x, float xs, uint8 xz, int8[2,1,1,1] w, float[2] ws, int8[2] wz, float ys, int8 yz, int32[2] b)
  => (int8[1,2,1,4] y) { y = QLinearConv(x, xs, xz, w, ws, wz, ys, yz, b) }
)",
                     {{"x", u8({1, 1, 1, 4}, {10, 11, 12, 200})},
                      {"xs", f32({}, {0.5f})},
                      {"xz", u8({}, {10})},
                      {"w", i8({2, 1, 1, 1}, {3, -1})},
                      {"ws", f32({2}, {1.0f, 0.25f})},
                      {"wz", i8({2}, {0, 1})},
                      {"ys", f32({}, {1.0f})},
                      {"yz", i8({}, {-1})},
                      {"b", Tensor::fromValues<int32_t>(DType::kInt32, {2}, {1, 0})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  // ch0: (x-10)*3 + 1 = 1, 4, 7, 571; *0.5 -> 0.5->0, 2, 3.5->4, sat; -1
  // ch1: (x-10)*(-2) = 0, -2, -4, -380; *0.125 -> 0, -0.25->0, -0.5->0 (even),
  // -47.5->-48 (even); -1
  EXPECT_EQ(values<int8_t>((*out)[0]), (std::vector<int8_t>{-1, 1, 3, 127, -1, -1, -1, -49}));
}

TEST(QuantOps, MicrosoftQLinearAddMulPoolConcat) {
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (uint8[2,2] a, float as, uint8 az, uint8[2] b, float bs, uint8 bz, float cs, uint8 cz) => (uint8[2,2] y, uint8[2,2] m) {
  y = com.microsoft.QLinearAdd(a, as, az, b, bs, bz, cs, cz)
  m = com.microsoft.QLinearMul(a, as, az, b, bs, bz, cs, cz)
}
)",
                     {{"a", u8({2, 2}, {10, 20, 30, 255})},
                      {"as", f32({}, {0.5f})},
                      {"az", u8({}, {10})},
                      {"b", u8({2}, {1, 3})},
                      {"bs", f32({}, {1.0f})},
                      {"bz", u8({}, {0})},
                      {"cs", f32({}, {2.0f})},
                      {"cz", u8({}, {100})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  // add: (a-10)*0.25 + b*0.5 + 100: 100.5->100, 102.5+... = 2.5+1.5=4 ->104, 5+0.5=5.5->106, 61.25+1.5=62.75->163
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{100, 104, 106, 163}));
  // mul: (a-10)*0.5 * b / 2 + 100: 0, 7.5->8, 5, 183.75->184 => 100, 108, 105, 255 (saturated)
  EXPECT_EQ(values<uint8_t>((*out)[1]), (std::vector<uint8_t>{100, 108, 105, 255}));
  auto pool = runText(R"(
<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (int8[1,2,1,3] x, float xs, int8 xz, float ys, int8 yz) => (int8[1,2,1,1] y) {
  y = com.microsoft.QLinearGlobalAveragePool(x, xs, xz, ys, yz)
}
)",
                      {{"x", i8({1, 2, 1, 3}, {1, 2, 4, -9, -9, -9})},
                       {"xs", f32({}, {1.0f})},
                       {"xz", i8({}, {0})},
                       {"ys", f32({}, {1.0f})},
                       {"yz", i8({}, {0})}});
  ASSERT_TRUE(pool.isOk()) << pool.status().message();
  EXPECT_EQ(values<int8_t>((*pool)[0]), (std::vector<int8_t>{2, -9}));  // 7/3 = 2.33 -> 2
  auto cat = runText(R"(
<ir_version: 8, opset_import: ["" : 13, "com.microsoft" : 1]>
g (float ys, uint8 yz, uint8[1,2] a, float as, uint8 az, uint8[1,1] b, float bs, uint8 bz) => (uint8[1,3] y) {
  y = com.microsoft.QLinearConcat<axis = 1>(ys, yz, a, as, az, b, bs, bz)
}
)",
                     {{"ys", f32({}, {1.0f})},
                      {"yz", u8({}, {0})},
                      {"a", u8({1, 2}, {7, 9})},
                      {"as", f32({}, {1.0f})},
                      {"az", u8({}, {0})},
                      {"b", u8({1, 1}, {13})},
                      {"bs", f32({}, {0.5f})},
                      {"bz", u8({}, {10})}});
  ASSERT_TRUE(cat.isOk()) << cat.status().message();
  EXPECT_EQ(values<uint8_t>((*cat)[0]), (std::vector<uint8_t>{7, 9, 2}));  // (13-10)*0.5 = 1.5 -> 2
}

// Opt-in cross-check against ONNX Runtime: NNC_QUANT_ORT_CASES names a folder of backend-test
// style cases (model.onnx, test_data_set_0/{input,output}_i.pb) whose outputs ORT computed;
// every output must match bit for bit.
TEST(QuantOps, MatchesOnnxRuntimeCasesWhenGiven) {
  const char* root = std::getenv("NNC_QUANT_ORT_CASES");
  if (!root) GTEST_SKIP() << "set NNC_QUANT_ORT_CASES to a folder of ORT-computed cases";
  namespace fs = std::filesystem;
  auto readPb = [](const fs::path& file) -> Expected<Tensor> {
    onnx::TensorProto proto;
    std::ifstream in(file, std::ios::binary);
    if (!in || !proto.ParseFromIstream(&in)) return invalidModel("cannot parse " + file.string());
    onnx_io::ExternalDataResolver external("");
    return onnx_io::tensorFromProto(proto, external);
  };
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    const fs::path dir = entry.path();
    auto model = loadModel((dir / "model.onnx").string());
    ASSERT_TRUE(model.isOk()) << model.status().message();
    auto session = Session::create(*model, {2, nullptr});
    ASSERT_TRUE(session.isOk()) << dir << ": " << session.status().message();
    NamedTensors inputs;
    for (size_t i = 0; fs::exists(dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb")); ++i) {
      auto t = readPb(dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb"));
      ASSERT_TRUE(t.isOk());
      inputs.emplace_back(model->graph->inputs()[i]->name(), std::move(t).value());
    }
    auto out = (*session)->run(inputs);
    ASSERT_TRUE(out.isOk()) << dir << ": " << out.status().message();
    for (size_t i = 0; i < out->size(); ++i) {
      auto expected = readPb(dir / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb"));
      ASSERT_TRUE(expected.isOk());
      EXPECT_EQ((*out)[i].shape, expected->shape) << dir;
      EXPECT_TRUE(sameContents((*out)[i], *expected)) << dir << " output " << i;
      if (!sameContents((*out)[i], *expected) && (*out)[i].dtype != DType::kFloat) {
        const uint8_t* a = (*out)[i].bytes();
        const uint8_t* b = expected->bytes();
        int diffs = 0;
        for (size_t k = 0; k < (*out)[i].byteSize() && diffs < 5; ++k)
          if (a[k] != b[k]) {
            ++diffs;
            ADD_FAILURE() << "byte " << k << ": " << int(a[k]) << " vs ORT " << int(b[k]);
          }
      }
    }
    ++cases;
  }
  std::printf("compared %d ORT cases\n", cases);
}

}  // namespace
}  // namespace nnc

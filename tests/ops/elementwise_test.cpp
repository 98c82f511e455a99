// Hand-computed checks of the elementwise family (more cases in the conformance suite):
// broadcasting corners, legacy broadcast, casts and rounding, integer corner cases, half types,
// optional inputs, NaN propagation, and accuracy of the vectorized float paths on big tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "nncompress/ir/half.h"
#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

// Parses a model in ONNX text syntax and runs it once.
Expected<std::vector<Tensor>> run(const char* text, const NamedTensors& inputs, int threads = 1) {
  auto proto = test::parseText(text);
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

int64_t elementCount(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor floats(std::vector<int64_t> shape, std::vector<float> v) { return Tensor::fromValues<float>(DType::kFloat, std::move(shape), v); }

TEST(ElementwiseOps, IntegerDivisionByZeroGivesZero) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (int32[4] a, int32[4] b) => (int32[4] c) { c = Div(a, b) }
)",
                 {{"a", Tensor::fromValues<int32_t>(DType::kInt32, {4}, {7, -7, 5, INT32_MIN})},
                  {"b", Tensor::fromValues<int32_t>(DType::kInt32, {4}, {2, 2, 0, -1})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  // Truncation toward zero, like C and ONNX Runtime; MIN / -1 wraps instead of trapping.
  EXPECT_EQ(values<int32_t>((*out)[0]), (std::vector<int32_t>{3, -3, 0, INT32_MIN}));
}

TEST(ElementwiseOps, BroadcastBothWaysAndEmpty) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2,1,3] a, float[4,1] b, float[0,3] e, float[3] f) => (float[2,4,3] c, float[0,3] d) { c = Sub(a, b)  d = Add(e, f) }
)",
                 {{"a", floats({2, 1, 3}, {1, 2, 3, 4, 5, 6})},
                  {"b", floats({4, 1}, {0, 10, 20, 30})},
                  {"e", floats({0, 3}, {})},
                  {"f", floats({3}, {1, 2, 3})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  ASSERT_EQ((*out)[0].shape, (std::vector<int64_t>{2, 4, 3}));
  auto c = values<float>((*out)[0]);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(c[(i * 4 + j) * 3 + k], float(i * 3 + k + 1) - float(j * 10));
  EXPECT_EQ((*out)[1].shape, (std::vector<int64_t>{0, 3}));
}

TEST(ElementwiseOps, BigBroadcastMatchesNaiveLoop) {
  // Shapes that take the short-run, long-run and parallel paths of the broadcast loop.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-3, 3);
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{64, 33, 17}, {64, 1, 17}}, {{8, 3, 128, 128}, {3, 1, 1}}, {{300, 1}, {1, 301}}, {{5, 4096, 3}, {4096, 1}}};
  for (const auto& [sa, sb] : cases) {
    std::vector<float> a(static_cast<size_t>(elementCount(sa))), b(static_cast<size_t>(elementCount(sb)));
    for (auto& v : a) v = dist(rng);
    for (auto& v : b) v = dist(rng);
    // The model's input ranks follow the case.
    auto dims = [](size_t rank) {
      std::string s;
      for (size_t i = 0; i < rank; ++i) s += (i ? ",?" : "?");
      return s;
    };
    const std::string text = "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[" + dims(sa.size()) + "] a, float[" +
                             dims(sb.size()) + "] b) => (float[" + dims(std::max(sa.size(), sb.size())) + "] c) { c = Mul(a, b) }";
    auto out = run(text.c_str(),
                   {{"a", floats(sa, a)}, {"b", floats(sb, b)}}, 2);
    ASSERT_TRUE(out.isOk()) << out.status().message();
    const Tensor& c = (*out)[0];
    // Naive reference with explicit index arithmetic.
    const size_t rank = std::max(sa.size(), sb.size());
    std::vector<int64_t> pa(rank, 1), pb(rank, 1), shape(rank);
    std::copy(sa.begin(), sa.end(), pa.begin() + static_cast<long>(rank - sa.size()));
    std::copy(sb.begin(), sb.end(), pb.begin() + static_cast<long>(rank - sb.size()));
    for (size_t d = 0; d < rank; ++d) shape[d] = std::max(pa[d], pb[d]);
    ASSERT_EQ(c.shape, shape);
    const float* pc = c.dataAs<float>();
    std::vector<int64_t> idx(rank, 0);
    for (int64_t i = 0; i < c.elementCount(); ++i) {
      int64_t ia = 0, ib = 0;
      for (size_t d = 0; d < rank; ++d) {
        ia = ia * pa[d] + (pa[d] == 1 ? 0 : idx[d]);
        ib = ib * pb[d] + (pb[d] == 1 ? 0 : idx[d]);
      }
      ASSERT_EQ(pc[i], a[static_cast<size_t>(ia)] * b[static_cast<size_t>(ib)]) << "at " << i;
      for (size_t d = rank; d-- > 0;) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
  }
}

TEST(ElementwiseOps, LegacyBroadcastWithAxis) {
  auto out = run(R"(
<ir_version: 3, opset_import: ["" : 6]>
g (float[2,3,2] a, float[3] b) => (float[2,3,2] c) { c = Add<broadcast = 1, axis = 1>(a, b) }
)",
                 {{"a", floats({2, 3, 2}, std::vector<float>(12, 0.0f))}, {"b", floats({3}, {1, 2, 3})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
}

TEST(ElementwiseOps, WhereBroadcastsThreeWaysAndSelectsFloat16) {
  std::vector<uint16_t> x = {floatToHalf(1.5f), floatToHalf(-2.0f)};
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 16]>
g (bool[2,1] c, float16[2] x, float16 y) => (float16[2,2] z) { z = Where(c, x, y) }
)",
                 {{"c", Tensor::fromValues<uint8_t>(DType::kBool, {2, 1}, {1, 0})},
                  {"x", Tensor::fromValues<uint16_t>(DType::kFloat16, {2}, x)},
                  {"y", Tensor::fromValues<uint16_t>(DType::kFloat16, {}, {floatToHalf(7.0f)})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].dtype, DType::kFloat16);
  EXPECT_EQ(values<uint16_t>((*out)[0]), (std::vector<uint16_t>{x[0], x[1], floatToHalf(7.0f), floatToHalf(7.0f)}));
}

TEST(ElementwiseOps, CastRoundsAndTruncates) {
  const float tie = 1.0f + std::ldexp(1.0f, -11);       // halfway between two float16s: to even (1.0)
  const float above = 1.0f + 3 * std::ldexp(1.0f, -11);  // halfway, odd below: rounds up
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 19]>
g (float[6] x) => (float16[6] h, bfloat16[6] b, int32[6] i, bool[6] t, uint8[6] u) {
  h = Cast<to = 10>(x)  b = Cast<to = 16>(x)  i = Cast<to = 6>(x)  t = Cast<to = 9>(x)  u = Cast<to = 2>(x)
}
)",
                 {{"x", floats({6}, {tie, above, -1.7f, 2.9f, 0.0f, NAN})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  auto h = values<uint16_t>((*out)[0]);
  EXPECT_EQ(h[0], floatToHalf(1.0f));
  EXPECT_EQ(halfToFloat(h[1]), 1.0f + std::ldexp(1.0f, -9));  // to the even neighbour above
  EXPECT_EQ(halfToFloat(h[2]), -1.7001953125f);
  EXPECT_TRUE(std::isnan(halfToFloat(h[5])));
  auto b = values<uint16_t>((*out)[1]);
  EXPECT_EQ(bfloat16ToFloat(b[3]), 2.90625f);  // 2.9 = 0x4039999A rounds to 0x403A
  auto i = values<int32_t>((*out)[2]);
  EXPECT_EQ(i[2], -1);  // toward zero
  EXPECT_EQ(i[3], 2);
  EXPECT_EQ(i[4], 0);
  EXPECT_EQ(values<uint8_t>((*out)[3]), (std::vector<uint8_t>{1, 1, 1, 1, 0, 1}));  // NaN is true
  EXPECT_EQ(values<uint8_t>((*out)[4])[2], 255);                                    // -1 wraps, as numpy on x86
}

TEST(ElementwiseOps, CastFromHalfTypesAndCastLike) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 19]>
g (float16[3] h, bfloat16[3] b, int64[1] like) => (int64[3] i, float[3] f) { i = CastLike(h, like)  f = Cast<to = 1>(b) }
)",
                 {{"h", Tensor::fromValues<uint16_t>(DType::kFloat16, {3}, {floatToHalf(-3.75f), floatToHalf(65504.0f), floatToHalf(0.5f)})},
                  {"b", Tensor::fromValues<uint16_t>(DType::kBFloat16, {3}, {0x3f80, 0xc040, 0x7f80})},
                  {"like", Tensor::fromValues<int64_t>(DType::kInt64, {1}, {0})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(values<int64_t>((*out)[0]), (std::vector<int64_t>{-3, 65504, 0}));
  EXPECT_EQ(values<float>((*out)[1]), (std::vector<float>{1.0f, -3.0f, INFINITY}));
}

TEST(ElementwiseOps, RoundHalfToEven) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 11]>
g (float[6] x) => (float[6] y) { y = Round(x) }
)",
                 {{"x", floats({6}, {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 2.4f})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{0, 2, 2, -0.0f, -2, 2}));
}

TEST(ElementwiseOps, IntegerModSignsAndZero) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int32[5] a, int32[5] b) => (int32[5] m, int32[5] f) { m = Mod(a, b)  f = Mod<fmod = 1>(a, b) }
)",
                 {{"a", Tensor::fromValues<int32_t>(DType::kInt32, {5}, {-7, 7, 7, 5, INT32_MIN})},
                  {"b", Tensor::fromValues<int32_t>(DType::kInt32, {5}, {3, -3, 3, 0, -1})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(values<int32_t>((*out)[0]), (std::vector<int32_t>{2, -2, 1, 0, 0}));   // sign of the divisor
  EXPECT_EQ(values<int32_t>((*out)[1]), (std::vector<int32_t>{-1, 1, 1, 0, 0}));   // sign of the dividend
}

TEST(ElementwiseOps, FloatModNeedsFmod) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1] a, float[1] b) => (float[1] m) { m = Mod(a, b) }
)",
                 {{"a", floats({1}, {1})}, {"b", floats({1}, {2})}});
  ASSERT_FALSE(out.isOk());
  EXPECT_NE(out.status().message().find("fmod"), std::string::npos);
}

TEST(ElementwiseOps, PowMixedTypes) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 15]>
g (float[3] x, float16[3] e, int64[3] i, int64[3] n) => (float[3] y, int64[3] p) { y = Pow(x, e)  p = Pow(i, n) }
)",
                 {{"x", floats({3}, {2, 9, -2})},
                  {"e", Tensor::fromValues<uint16_t>(DType::kFloat16, {3}, {floatToHalf(3), floatToHalf(0.5f), floatToHalf(2)})},
                  {"i", Tensor::fromValues<int64_t>(DType::kInt64, {3}, {3, -2, 2})},
                  {"n", Tensor::fromValues<int64_t>(DType::kInt64, {3}, {39, 3, -1})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].dtype, DType::kFloat);  // a float16 exponent does not make the result float16
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{8, 3, 4}));
  // 3^39 needs all 62 bits: exact integer power, not through double.
  EXPECT_EQ(values<int64_t>((*out)[1]), (std::vector<int64_t>{4052555153018976267LL, -8, 0}));
}

TEST(ElementwiseOps, ClipAttributesAndOptionalInputs) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 6]>
g (float[4] x) => (float[4] y) { y = Clip<min = -1.0, max = 1.0>(x) }
)",
                 {{"x", floats({4}, {-5, 0.5f, 5, NAN})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  auto y = values<float>((*out)[0]);
  EXPECT_EQ(y[0], -1);
  EXPECT_EQ(y[1], 0.5f);
  EXPECT_EQ(y[2], 1);
  EXPECT_TRUE(std::isnan(y[3]));

  auto out13 = run(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int8[3] x, int8 hi) => (int8[3] y) { y = Clip(x, , hi) }
)",
                   {{"x", Tensor::fromValues<int8_t>(DType::kInt8, {3}, {-128, 3, 127})},
                    {"hi", Tensor::fromValues<int8_t>(DType::kInt8, {}, {4})}});
  ASSERT_TRUE(out13.isOk()) << out13.status().message();
  EXPECT_EQ(values<int8_t>((*out13)[0]), (std::vector<int8_t>{-128, 3, 4}));
}

TEST(ElementwiseOps, MinMaxPropagateNaN) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2] a, float[2] b, float c) => (float[2] lo, float[2] hi) { lo = Min(a, b, c)  hi = Max(a, b, c) }
)",
                 {{"a", floats({2}, {NAN, 1})}, {"b", floats({2}, {0, NAN})}, {"c", floats({}, {0.5f})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  for (int o = 0; o < 2; ++o)
    for (float v : values<float>((*out)[static_cast<size_t>(o)])) EXPECT_TRUE(std::isnan(v));
}

TEST(ElementwiseOps, PReluSlopeBroadcastAndBadSlope) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 16]>
g (float[1,2,2] x, float[2,1] s) => (float[1,2,2] y) { y = PRelu(x, s) }
)",
                 {{"x", floats({1, 2, 2}, {-1, 2, -3, 4})}, {"s", floats({2, 1}, {0.5f, 0.25f})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(values<float>((*out)[0]), (std::vector<float>{-0.5f, 2, -0.75f, 4}));

  // A slope that would grow X is an error (unidirectional broadcast), not a crash.
  auto bad = run(R"(
<ir_version: 8, opset_import: ["" : 16]>
g (float[2] x, float[3,1] s) => (float[3,2] y) { y = PRelu(x, s) }
)",
                 {{"x", floats({2}, {-1, 1})}, {"s", floats({3, 1}, {1, 2, 3})}});
  EXPECT_FALSE(bad.isOk());
}

TEST(ElementwiseOps, BitShiftByWidthGivesZero) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 11]>
g (uint8[3] x, uint8[3] s) => (uint8[3] l, uint8[3] r) { l = BitShift<direction = "LEFT">(x, s)  r = BitShift<direction = "RIGHT">(x, s) }
)",
                 {{"x", Tensor::fromValues<uint8_t>(DType::kUInt8, {3}, {0x81, 0x81, 0x81})},
                  {"s", Tensor::fromValues<uint8_t>(DType::kUInt8, {3}, {1, 8, 200})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(values<uint8_t>((*out)[0]), (std::vector<uint8_t>{0x02, 0, 0}));
  EXPECT_EQ(values<uint8_t>((*out)[1]), (std::vector<uint8_t>{0x40, 0, 0}));
}

TEST(ElementwiseOps, Float16ActivationComputedInFloat) {
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float16[2] x) => (float16[2] y) { y = Sigmoid(x) }
)",
                 {{"x", Tensor::fromValues<uint16_t>(DType::kFloat16, {2}, {floatToHalf(0.0f), floatToHalf(2.0f)})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].dtype, DType::kFloat16);
  EXPECT_EQ(values<uint16_t>((*out)[0]), (std::vector<uint16_t>{floatToHalf(0.5f), floatToHalf(static_cast<float>(1 / (1 + std::exp(-2.0))))}));
}

// The vectorized float32 paths stay within ~1e-6 relative of double-precision references.
TEST(ElementwiseOps, VectorizedFloatPathsAreAccurate) {
  const int64_t n = 200000;  // big enough for the parallel path
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = -12.0f + 24.0f * static_cast<float>(i) / static_cast<float>(n);
  auto out = run(R"(
<ir_version: 8, opset_import: ["" : 20]>
g (float[N] x) => (float[N] s, float[N] t, float[N] e, float[N] r, float[N] g, float[N] gt, float[N] el, float[N] ce) {
  s = Sigmoid(x)  t = Tanh(x)  e = Exp(x)  r = Erf(x)  g = Gelu(x)  gt = Gelu<approximate = "tanh">(x)
  el = Elu<alpha = 0.5>(x)  ce = Celu<alpha = 2.0>(x)
}
)",
                 {{"x", floats({n}, x)}}, 2);
  ASSERT_TRUE(out.isOk()) << out.status().message();
  std::vector<double (*)(double)> refs = {
      [](double v) { return 1 / (1 + std::exp(-v)); },
      [](double v) { return std::tanh(v); },
      [](double v) { return std::exp(v); },
      [](double v) { return std::erf(v); },
      [](double v) { return 0.5 * v * std::erfc(-v / std::sqrt(2.0)); },  // 1 + erf(z) = erfc(-z)
      [](double v) { return v / (1 + std::exp(-2 * std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); },  // 1 + tanh(z) = 2/(1+exp(-2z))
      [](double v) { return v < 0 ? 0.5 * std::expm1(v) : v; },
      [](double v) { return std::max(v, 0.0) + std::min(0.0, 2 * std::expm1(v / 2)); },
  };
  for (size_t o = 0; o < refs.size(); ++o) {
    const float* y = (*out)[o].dataAs<float>();
    for (int64_t i = 0; i < n; ++i) {
      const double ref = refs[o](x[static_cast<size_t>(i)]);
      ASSERT_LE(std::fabs(y[i] - ref), 1e-6 * std::fabs(ref) + 1e-20) << "output " << o << " at x=" << x[static_cast<size_t>(i)];
    }
  }
}

}  // namespace
}  // namespace nnc

// Fused QDQ groups (runtime/qdq_fusion.h): DequantizeLinear -> Conv/MatMul (-> Relu) ->
// QuantizeLinear run as integer kernels. Checked against the same session with fusion off (the
// float DQ -> op -> Q emulation: at most one quantization step apart, almost always equal), that
// the fused kernel really ran (profile), that groups that must not fuse don't, and against ONNX
// Runtime (which fuses the same groups into QLinearConv/QLinearMatMul): bit-exact uint8 outputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <sys/wait.h>

#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

uint32_t nextRandom(uint32_t& s) {
  s = s * 1664525u + 1013904223u;
  return s >> 8;
}

// "{v0, v1, ...}" with floats printed so they parse back to the same float.
template <typename T>
std::string list(const std::vector<T>& v) {
  std::ostringstream o;
  o.precision(9);
  o << "{";
  for (size_t i = 0; i < v.size(); ++i) o << (i ? ", " : "") << (std::is_same_v<T, float> ? v[i] : +v[i]);
  return o.str() + "}";
}

// x float[1,3,8,8] -> Q(uint8) -> DQ -> Conv(3x3, pad 1, per-channel int8 weights in [-64, 63],
// int32 bias with scale x_s * w_s) [-> Relu] -> Q(uint8, zp 10) = y; and y -> DQ -> MatMul with
// per-column int8 weights [8, 5] -> Q(uint8, zp 120) = z. (ONNX Runtime fuses a group only when
// its input and output types agree; otherwise it runs the float ops, and ties may round apart.) |w| <= 64: ORT's AVX2 u8 x s8 kernel saturates
// pairs of products above that (see tools/ort/quant_cases.js).
std::string qdqModelText(bool relu) {
  uint32_t s = 12345;
  const float x_s = 0.02f;
  std::vector<int32_t> w(4 * 3 * 3 * 3), b(4), w2(8 * 5);
  std::vector<float> w_s(4), b_s(4), w2_s(5);
  for (auto& v : w) v = static_cast<int32_t>(nextRandom(s) % 128) - 64;
  for (size_t c = 0; c < 4; ++c) {
    w_s[c] = 0.01f + 0.005f * static_cast<float>(c);
    b_s[c] = x_s * w_s[c];
    b[c] = static_cast<int32_t>(nextRandom(s) % 2001) - 1000;
  }
  for (auto& v : w2) v = static_cast<int32_t>(nextRandom(s) % 128) - 64;
  for (size_t c = 0; c < 5; ++c) w2_s[c] = 0.003f + 0.001f * static_cast<float>(c);
  std::ostringstream t;
  t << R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[1,3,8,8] x) => (uint8[1,4,8,8] y, uint8[1,4,8,5] z)
<uint8 x_zp = {128}, float x_s = {0.02}, int8[4,3,3,3] w = )"
    << list(w) << ", float[4] w_s = " << list(w_s) << ", int32[4] b = " << list(b) << ", float[4] b_s = " << list(b_s)
    << ", float y_s = {0.05}, uint8 y_zp = {10}, int8[8,5] w2 = " << list(w2) << ", float[5] w2_s = " << list(w2_s)
    << R"(, float z_s = {0.04}, uint8 z_zp = {120}> {
  xq = QuantizeLinear(x, x_s, x_zp)
  xf = DequantizeLinear(xq, x_s, x_zp)
  wf = DequantizeLinear<axis = 0>(w, w_s)
  bf = DequantizeLinear<axis = 0>(b, b_s)
  c = Conv<pads = [1, 1, 1, 1]>(xf, wf, bf)
)" << (relu ? "  r = Relu(c)\n  y = QuantizeLinear(r, y_s, y_zp)\n" : "  y = QuantizeLinear(c, y_s, y_zp)\n")
    << R"(  yf = DequantizeLinear(y, y_s, y_zp)
  w2f = DequantizeLinear<axis = 1>(w2, w2_s)
  m = MatMul(yf, w2f)
  z = QuantizeLinear(m, z_s, z_zp)
})";
  return t.str();
}

Tensor randomInput(uint32_t seed) {
  std::vector<float> v(3 * 64);
  for (auto& f : v) f = static_cast<float>(nextRandom(seed) % 20001) / 10000.0f - 1.0f;
  return Tensor::fromValues<float>(DType::kFloat, {1, 3, 8, 8}, v);
}

struct RunResult {
  std::vector<Tensor> outputs;
  Profile profile;
};

RunResult run(const Model& model, bool fuse, const Tensor& x) {
  SessionOptions options;
  options.fuse_qdq = fuse;
  auto session = Session::create(model, options);
  EXPECT_TRUE(session.isOk()) << session.status().message();
  RunResult r;
  auto out = (*session)->run({{"x", x}}, nullptr, &r.profile);
  EXPECT_TRUE(out.isOk()) << out.status().message();
  if (out.isOk()) r.outputs = std::move(out).value();
  return r;
}

// Max |a - b| over two 8-bit tensors, and how many elements differ.
template <typename T>
std::pair<int, int64_t> stepDiff(const Tensor& a, const Tensor& b) {
  int worst = 0;
  int64_t differ = 0;
  for (int64_t i = 0; i < a.elementCount(); ++i) {
    const int d = std::abs(int(a.dataAs<T>()[i]) - int(b.dataAs<T>()[i]));
    worst = std::max(worst, d);
    differ += d != 0;
  }
  return {worst, differ};
}

TEST(QdqFusion, IntegerKernelsMatchFloatEmulationWithinOneStep) {
  for (bool relu : {false, true}) {
    onnx::ModelProto proto = test::parseText(qdqModelText(relu).c_str());
    auto model = importModel(proto, "");
    ASSERT_TRUE(model.isOk()) << model.status().message();
    int64_t differ = 0, total = 0;
    for (uint32_t seed = 1; seed <= 5; ++seed) {
      const Tensor x = randomInput(seed);
      RunResult fused = run(*model, true, x);
      RunResult plain = run(*model, false, x);
      ASSERT_EQ(fused.outputs.size(), 2u);
      ASSERT_EQ(plain.outputs.size(), 2u);
      // The fused kernels ran, and nothing of the groups ran in float.
      EXPECT_EQ(fused.profile.by_op["ai.nncompress.internal.QdqConv"].calls, 1);
      EXPECT_EQ(fused.profile.by_op["ai.nncompress.internal.QdqMatMul"].calls, 1);
      EXPECT_EQ(fused.profile.by_op.count("Conv"), 0u);
      EXPECT_EQ(fused.profile.by_op.count("MatMul"), 0u);
      EXPECT_EQ(fused.profile.by_op.count("Relu"), 0u);
      EXPECT_EQ(fused.profile.by_op["DequantizeLinear"].calls, 0);
      EXPECT_EQ(fused.profile.by_op["QuantizeLinear"].calls, 1);  // x's, not in a group
      EXPECT_EQ(plain.profile.by_op["Conv"].calls, 1);
      ASSERT_EQ(fused.outputs[0].dtype, DType::kUInt8);
      ASSERT_EQ(fused.outputs[1].dtype, DType::kUInt8);
      ASSERT_EQ(fused.outputs[0].shape, plain.outputs[0].shape);
      auto [worst_y, differ_y] = stepDiff<uint8_t>(fused.outputs[0], plain.outputs[0]);
      EXPECT_LE(worst_y, 1) << "relu " << relu << " seed " << seed;
      if (relu) {
        for (int64_t i = 0; i < fused.outputs[0].elementCount(); ++i) ASSERT_GE(fused.outputs[0].dataAs<uint8_t>()[i], 10);
      }
      // z reads y: where both runs computed the same y, only the MatMul group can differ.
      if (differ_y == 0) {
        auto [worst_z, differ_z] = stepDiff<uint8_t>(fused.outputs[1], plain.outputs[1]);
        EXPECT_LE(worst_z, 1) << "relu " << relu << " seed " << seed << " (" << differ_z << " differ)";
      }
      differ += differ_y;
      total += fused.outputs[0].elementCount();
    }
    // Float rounding of the multiplier only matters at exact ties: rare.
    EXPECT_LT(differ * 100, total) << differ << " of " << total << " differ (relu " << relu << ")";
  }
}

TEST(QdqFusion, LeavesGroupsWhoseIntermediatesAreReadElsewhere) {
  // c is a graph output too: the Conv must run in float (c's values are needed).
  onnx::ModelProto proto = test::parseText(R"(<ir_version: 8, opset_import: ["" : 13]>
g (uint8[1,1,4,4] xq) => (uint8[1,1,4,4] y, float[1,1,4,4] c)
<uint8 zp = {128}, float s = {0.1}, int8[1,1,1,1] w = {3}, float ws = {0.5}> {
  xf = DequantizeLinear(xq, s, zp)
  wf = DequantizeLinear(w, ws)
  c = Conv(xf, wf)
  y = QuantizeLinear(c, s, zp)
})");
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk()) << model.status().message();
  auto session = Session::create(*model);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  std::vector<uint8_t> xq(16);
  for (size_t i = 0; i < 16; ++i) xq[i] = static_cast<uint8_t>(120 + i);
  Profile profile;
  auto out = (*session)->run({{"xq", Tensor::fromValues<uint8_t>(DType::kUInt8, {1, 1, 4, 4}, xq)}}, nullptr, &profile);
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(profile.by_op["Conv"].calls, 1);
  EXPECT_EQ(profile.by_op.count("ai.nncompress.internal.QdqConv"), 0u);
  // y = round(((x - 128) * 0.1 * 3 * 0.5) / 0.1) + 128 = round(1.5 * (x - 128)) + 128 (half to even).
  const uint8_t* y = (*out)[0].dataAs<uint8_t>();
  EXPECT_EQ(y[0], 116);   // x = 120: -12
  EXPECT_EQ(y[1], 118);   // x = 121: -10.5 -> -10
  EXPECT_EQ(y[15], 138);  // x = 135: 10.5 -> 10
}

// x float[3,20] -> Q -> DQ -> Gemm(transB = 1, int8 per-row weights [6,20] in [-64, 63], int32 bias
// with scale x_s * w_s) -> Q(uint8, zp 30) = y; y -> DQ -> Gemm(transB = 0, weights [6,4] per column,
// float C [4], alpha 0.5, beta 2) -> z float (a graph output: the int32 sums scaled back to float).
std::string qdqGemmModelText() {
  uint32_t s = 777;
  const float x_s = 0.01f;
  std::vector<int32_t> w(6 * 20), b(6), w2(6 * 4);
  std::vector<float> w_s(6), b_s(6), w2_s(4), c(4);
  for (auto& v : w) v = static_cast<int32_t>(nextRandom(s) % 128) - 64;
  for (size_t i = 0; i < 6; ++i) {
    w_s[i] = 0.004f + 0.001f * static_cast<float>(i);
    b_s[i] = x_s * w_s[i];
    b[i] = static_cast<int32_t>(nextRandom(s) % 4001) - 2000;
  }
  for (auto& v : w2) v = static_cast<int32_t>(nextRandom(s) % 128) - 64;
  for (size_t i = 0; i < 4; ++i) {
    w2_s[i] = 0.002f + 0.0005f * static_cast<float>(i);
    c[i] = 0.25f * static_cast<float>(i) - 0.3f;
  }
  std::ostringstream t;
  t << R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[3,20] x) => (uint8[3,6] y, float[3,4] z)
<uint8 x_zp = {128}, float x_s = {0.01}, int8[6,20] w = )"
    << list(w) << ", float[6] w_s = " << list(w_s) << ", int32[6] b = " << list(b) << ", float[6] b_s = " << list(b_s)
    << ", float y_s = {0.03}, uint8 y_zp = {30}, int8[6,4] w2 = " << list(w2) << ", float[4] w2_s = " << list(w2_s)
    << ", float[4] c = " << list(c) << R"(> {
  xq = QuantizeLinear(x, x_s, x_zp)
  xf = DequantizeLinear(xq, x_s, x_zp)
  wf = DequantizeLinear<axis = 0>(w, w_s)
  bf = DequantizeLinear<axis = 0>(b, b_s)
  h = Gemm<transB = 1>(xf, wf, bf)
  y = QuantizeLinear(h, y_s, y_zp)
  yf = DequantizeLinear(y, y_s, y_zp)
  w2f = DequantizeLinear<axis = 1>(w2, w2_s)
  z = Gemm<alpha = 0.5, beta = 2.0>(yf, w2f, c)
})";
  return t.str();
}

TEST(QdqFusion, GemmGroupsMatchFloatEmulation) {
  onnx::ModelProto proto = test::parseText(qdqGemmModelText().c_str());
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk()) << model.status().message();
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    std::vector<float> v(3 * 20);
    for (auto& f : v) f = static_cast<float>(nextRandom(seed) % 20001) / 10000.0f - 1.0f;
    const Tensor x = Tensor::fromValues<float>(DType::kFloat, {3, 20}, v);
    SessionOptions fused_options, plain_options;
    plain_options.fuse_qdq = false;
    auto fused_session = Session::create(*model, fused_options);
    auto plain_session = Session::create(*model, plain_options);
    ASSERT_TRUE(fused_session.isOk() && plain_session.isOk());
    Profile profile;
    auto fused = (*fused_session)->run({{"x", x}}, nullptr, &profile);
    auto plain = (*plain_session)->run({{"x", x}});
    ASSERT_TRUE(fused.isOk()) << fused.status().message();
    ASSERT_TRUE(plain.isOk()) << plain.status().message();
    EXPECT_EQ(profile.by_op["ai.nncompress.internal.QdqGemm"].calls, 2);
    EXPECT_EQ(profile.by_op.count("Gemm"), 0u);
    EXPECT_EQ(profile.by_op["DequantizeLinear"].calls, 0);
    ASSERT_EQ((*fused)[0].dtype, DType::kUInt8);
    ASSERT_EQ((*fused)[1].dtype, DType::kFloat);
    ASSERT_EQ((*fused)[1].shape, (std::vector<int64_t>{3, 4}));
    auto [worst_y, differ_y] = stepDiff<uint8_t>((*fused)[0], (*plain)[0]);
    EXPECT_LE(worst_y, 1) << "seed " << seed;
    // Independent reference for y from the integers: acc = sum (xq - 128) * w + b, y = round(acc *
    // x_s * w_s / y_s) + 30, saturated; and for z from the fused y: 0.5 * sum(DQ(y) * DQ(w2)) + 2 * c.
    const float x_s = 0.01f;
    std::vector<int32_t> xq(60);
    for (size_t i = 0; i < 60; ++i)
      xq[i] = std::clamp(static_cast<int32_t>(std::nearbyint(v[i] / x_s)) + 128, 0, 255);
    const Tensor& wt = *model->graph->findValue("w")->initializer();
    const Tensor& bt = *model->graph->findValue("b")->initializer();
    const Tensor& wst = *model->graph->findValue("w_s")->initializer();
    for (int64_t m = 0; m < 3; ++m)
      for (int64_t n = 0; n < 6; ++n) {
        int32_t acc = bt.dataAs<int32_t>()[n];
        for (int64_t k = 0; k < 20; ++k) acc += (xq[m * 20 + k] - 128) * wt.dataAs<int8_t>()[n * 20 + k];
        const float mult = x_s * wst.dataAs<float>()[n] / 0.03f;
        const int32_t want = std::clamp(static_cast<int32_t>(std::nearbyint(static_cast<float>(acc) * mult)) + 30, 0, 255);
        EXPECT_EQ((*fused)[0].dataAs<uint8_t>()[m * 6 + n], want) << m << "," << n;
      }
    const Tensor& w2t = *model->graph->findValue("w2")->initializer();
    const Tensor& w2st = *model->graph->findValue("w2_s")->initializer();
    const Tensor& ct = *model->graph->findValue("c")->initializer();
    for (int64_t m = 0; m < 3; ++m)
      for (int64_t n = 0; n < 4; ++n) {
        double sum = 0;
        for (int64_t k = 0; k < 6; ++k)
          sum += (static_cast<double>((*fused)[0].dataAs<uint8_t>()[m * 6 + k]) - 30) * 0.03 *
                 w2t.dataAs<int8_t>()[k * 4 + n] * w2st.dataAs<float>()[n];
        const double want = 0.5 * sum + 2.0 * ct.dataAs<float>()[n];
        EXPECT_NEAR((*fused)[1].dataAs<float>()[m * 4 + n], want, 1e-5 * (1 + std::fabs(want))) << m << "," << n;
        if (differ_y == 0)
          EXPECT_NEAR((*fused)[1].dataAs<float>()[m * 4 + n], (*plain)[1].dataAs<float>()[m * 4 + n], 1e-5);
      }
  }
}

// x float[1,4,8,8] -> Q -> DQ (xf) -> depthwise Conv (3x3, pad 1, int32 bias) -> Q = cq -> DQ ->
// MaxPool 2x2 -> Q with the same parameters = mq; xf -> depthwise Conv (3x3, stride 2, pad 1, no
// bias) -> Q = dq; DQ(mq) + DQ(dq) -> Add -> Q = y. Weights in [-64, 63].
std::string qdqDepthwiseAddModelText() {
  uint32_t s = 4242;
  std::vector<int32_t> w(4 * 9), w2(4 * 9), b(4);
  std::vector<float> w_s(4), b_s(4), w2_s(4);
  for (auto& v : w) v = static_cast<int32_t>(nextRandom(s) % 128) - 64;
  for (auto& v : w2) v = static_cast<int32_t>(nextRandom(s) % 128) - 64;
  for (size_t c = 0; c < 4; ++c) {
    w_s[c] = 0.004f + 0.002f * static_cast<float>(c);
    w2_s[c] = 0.003f + 0.001f * static_cast<float>(c);
    b_s[c] = 0.02f * w_s[c];
    b[c] = static_cast<int32_t>(nextRandom(s) % 801) - 400;
  }
  std::ostringstream t;
  t << R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[1,4,8,8] x) => (uint8[1,4,8,8] cq, uint8[1,4,4,4] mq, uint8[1,4,4,4] dq, uint8[1,4,4,4] y)
<uint8 x_zp = {128}, float x_s = {0.02}, int8[4,1,3,3] w = )"
    << list(w) << ", float[4] w_s = " << list(w_s) << ", int32[4] b = " << list(b) << ", float[4] b_s = " << list(b_s)
    << ", int8[4,1,3,3] w2 = " << list(w2) << ", float[4] w2_s = " << list(w2_s)
    << R"(, float c_s = {0.015}, uint8 c_zp = {100}, float d_s = {0.012}, uint8 d_zp = {131}, float y_s = {0.025}, uint8 y_zp = {90}> {
  xq = QuantizeLinear(x, x_s, x_zp)
  xf = DequantizeLinear(xq, x_s, x_zp)
  wf = DequantizeLinear<axis = 0>(w, w_s)
  bf = DequantizeLinear<axis = 0>(b, b_s)
  c = Conv<group = 4, pads = [1, 1, 1, 1]>(xf, wf, bf)
  cq = QuantizeLinear(c, c_s, c_zp)
  cf = DequantizeLinear(cq, c_s, c_zp)
  m = MaxPool<kernel_shape = [2, 2], strides = [2, 2]>(cf)
  mq = QuantizeLinear(m, c_s, c_zp)
  mf = DequantizeLinear(mq, c_s, c_zp)
  w2f = DequantizeLinear<axis = 0>(w2, w2_s)
  d = Conv<group = 4, strides = [2, 2], pads = [1, 1, 1, 1]>(xf, w2f)
  dq = QuantizeLinear(d, d_s, d_zp)
  df = DequantizeLinear(dq, d_s, d_zp)
  a = Add(mf, df)
  y = QuantizeLinear(a, y_s, y_zp)
})";
  return t.str();
}

TEST(QdqFusion, DepthwiseMaxPoolAndAddGroupsMatchFloatEmulation) {
  onnx::ModelProto proto = test::parseText(qdqDepthwiseAddModelText().c_str());
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk()) << model.status().message();
  int64_t compared_y = 0;
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    std::vector<float> v(4 * 64);
    for (auto& f : v) f = static_cast<float>(nextRandom(seed) % 20001) / 10000.0f - 1.0f;
    const Tensor x = Tensor::fromValues<float>(DType::kFloat, {1, 4, 8, 8}, v);
    RunResult fused = run(*model, true, x);
    RunResult plain = run(*model, false, x);
    ASSERT_EQ(fused.outputs.size(), 4u);
    EXPECT_EQ(fused.profile.by_op["ai.nncompress.internal.QdqConv"].calls, 2);
    EXPECT_EQ(fused.profile.by_op["com.microsoft.QLinearAdd"].calls, 1);
    EXPECT_EQ(fused.profile.by_op["MaxPool"].calls, 1);
    EXPECT_EQ(fused.profile.by_op.count("Add"), 0u);
    EXPECT_EQ(fused.profile.by_op["DequantizeLinear"].calls, 1);  // xf: read by both Convs
    EXPECT_EQ(fused.profile.by_op["QuantizeLinear"].calls, 1);    // xq
    auto [worst_c, differ_c] = stepDiff<uint8_t>(fused.outputs[0], plain.outputs[0]);
    auto [worst_d, differ_d] = stepDiff<uint8_t>(fused.outputs[2], plain.outputs[2]);
    EXPECT_LE(worst_c, 1) << "seed " << seed;
    EXPECT_LE(worst_d, 1) << "seed " << seed;
    if (differ_c == 0) {
      // MaxPool on the 8-bit values is exact.
      auto [worst_m, differ_m] = stepDiff<uint8_t>(fused.outputs[1], plain.outputs[1]);
      EXPECT_EQ(differ_m, 0) << "seed " << seed;
      if (differ_d == 0) {
        auto [worst_y, differ_y] = stepDiff<uint8_t>(fused.outputs[3], plain.outputs[3]);
        EXPECT_LE(worst_y, 1) << "seed " << seed;
        ++compared_y;
      }
    }
  }
  EXPECT_GT(compared_y, 0);
}

TEST(QdqFusion, ObserverSeesTheOutputsOfFusedGroups) {
  // compare --per-layer and calibration observe every value; a fused group's step has no node
  // outputs of its own, so the session reports the group's output value (this used to crash).
  onnx::ModelProto proto = test::parseText(qdqGemmModelText().c_str());
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk()) << model.status().message();
  auto session = Session::create(*model);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  std::vector<std::string> seen;
  ValueObserver observer = [&](const Value& v, const Tensor& t) {
    seen.push_back(v.name() + ":" + dtypeName(t.dtype));
  };
  const Tensor x = Tensor::fromValues<float>(DType::kFloat, {3, 20}, std::vector<float>(60, 0.25f));
  auto out = (*session)->run({{"x", x}}, &observer);
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(seen, (std::vector<std::string>{"xq:uint8", "y:uint8", "z:float"}));
}

TEST(QdqFusion, MixedTypeAddAndFloatMulRunInOnePassLikeTheFloatOps) {
  // An int8 bias plus uint8 activations (types QLinearAdd doesn't mix) -> Q; a Mul of two DQs with
  // a float output (a graph output); a per-row scale [3, 1] times [2, 3, 20] -> int8 Q. QdqBinary computes what the float ops do:
  // the same bytes and floats as the unfused session.
  onnx::ModelProto proto = test::parseText(R"(<ir_version: 8, opset_import: ["" : 13]>
g (uint8[2,3,20] xq) => (uint8[2,3,20] y, float[2,3,20] z, int8[2,3,20] v)
<int8[20] bq = {-100, -50, -7, 0, 3, 9, 27, 64, 90, 127, -128, 1, 2, -3, 44, -44, 100, -1, 5, 11}, float bs = {0.013},
 uint8 x_zp = {117}, float x_s = {0.021}, uint8 k = {200}, float k_s = {0.003}, uint8 k_zp = {3},
 float y_s = {0.037}, uint8 y_zp = {121}, uint8[3,1] c = {10, 200, 255}, float c_s = {0.01},
 float v_s = {0.005}, int8 v_zp = {-3}> {
  xf = DequantizeLinear(xq, x_s, x_zp)
  bf = DequantizeLinear(bq, bs)
  a = Add(bf, xf)
  y = QuantizeLinear(a, y_s, y_zp)
  kf = DequantizeLinear(k, k_s, k_zp)
  z = Mul(xf, kf)
  cf = DequantizeLinear(c, c_s)
  vf = Mul(cf, xf)
  v = QuantizeLinear(vf, v_s, v_zp)
})");
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk()) << model.status().message();
  std::vector<uint8_t> xq(120);
  for (size_t i = 0; i < xq.size(); ++i) xq[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  const Tensor x = Tensor::fromValues<uint8_t>(DType::kUInt8, {2, 3, 20}, xq);
  SessionOptions plain_options;
  plain_options.fuse_qdq = false;
  auto fused_session = Session::create(*model);
  auto plain_session = Session::create(*model, plain_options);
  ASSERT_TRUE(fused_session.isOk() && plain_session.isOk());
  Profile profile;
  auto fused = (*fused_session)->run({{"xq", x}}, nullptr, &profile);
  auto plain = (*plain_session)->run({{"xq", x}});
  ASSERT_TRUE(fused.isOk() && plain.isOk());
  EXPECT_EQ(profile.by_op["ai.nncompress.internal.QdqBinary"].calls, 3);
  EXPECT_EQ(profile.by_op.count("Add"), 0u);
  EXPECT_EQ(profile.by_op.count("Mul"), 0u);
  EXPECT_EQ(profile.by_op["DequantizeLinear"].calls, 1);  // xf: read by both groups, so it still runs
  ASSERT_EQ((*fused)[0].dtype, DType::kUInt8);
  ASSERT_EQ((*fused)[1].dtype, DType::kFloat);
  EXPECT_TRUE(sameContents((*fused)[0], (*plain)[0]));
  EXPECT_TRUE(sameContents((*fused)[1], (*plain)[1]));
  EXPECT_TRUE(sameContents((*fused)[2], (*plain)[2]));  // [3, 1] against [2, 3, 20]: rows of one value
  // One element by hand: x = xq[5] = 196, b = bq[5] = 9: (196 - 117) * 0.021 + 9 * 0.013 = 1.776,
  // / 0.037 = 48.0 -> 48 + 121 = 169; z = 79 * 0.021 * (197 * 0.003).
  EXPECT_EQ((*fused)[0].dataAs<uint8_t>()[5], 169);
  EXPECT_FLOAT_EQ((*fused)[1].dataAs<float>()[5], 79 * 0.021f * (197 * 0.003f));
}

int shell(const std::string& cmd) {
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(QdqFusion, MatchesOnnxRuntimeBitForBit) {
  const std::string ort = test::sourceDir() + "/tools/ort";
  if (shell("command -v node >/dev/null") != 0 || !std::filesystem::exists(ort + "/node_modules/onnxruntime-node")) {
    const char* require = std::getenv("NNC_REQUIRE_ORT");
    if (require && std::string(require) == "1") FAIL() << "NNC_REQUIRE_ORT=1 but node / onnxruntime-node is missing";
    GTEST_SKIP() << "node or onnxruntime-node (tools/ort/install.sh) missing";
  }
  const std::string dir = test::makeTempDir();
  for (int variant : {0, 1, 2, 3}) {
    const bool relu = variant == 1;
    const std::string model = dir + "/qdq" + std::to_string(variant) + ".onnx";
    std::string bytes;
    const std::string text = variant == 3   ? qdqDepthwiseAddModelText()
                             : variant == 2 ? qdqGemmModelText()
                                            : qdqModelText(relu);
    ASSERT_TRUE(test::parseText(text.c_str()).SerializeToString(&bytes));
    test::writeFile(model, bytes);
    // crosscheck.sh: seeded random x in [-1, 1), ORT with all optimizations (QDQ -> QLinear*),
    // integer outputs compared bit for bit.
    const std::string cmd = "NNCOMPRESS='" + std::string(NNC_BINARY) + "' NNC_WORK='" + dir + "/work' '" + ort +
                            "/crosscheck.sh' --seed 3 '" + model + "' > '" + dir + "/log' 2>&1";
    EXPECT_EQ(shell(cmd), 0) << test::readFile(dir + "/log");
    EXPECT_NE(test::readFile(dir + "/log").find("1 of 1 models ok"), std::string::npos) << test::readFile(dir + "/log");
  }
}

}  // namespace
}  // namespace nnc

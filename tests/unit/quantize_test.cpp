// Static int8 quantization: the numerics (scales, zero points, int8 weights, int32 biases
// against hand-computed values and reference loops) and the QDQ graphs the quantize pass
// writes (structure, Relu/Clip merging, shared scales, exclusions, opsets, metadata), with
// outputs close to the float model's.
#include <gtest/gtest.h>

#include <cmath>

#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/quantize.h"
#include "passes/quant_math.h"
#include "test_util.h"

namespace nnc {
namespace {

// ---- numerics ----------------------------------------------------------------------------------

TEST(QuantMath, ActivationParamsCoverTheRangeAndZero) {
  auto p = quant::activationParams(-1, 3, DType::kUInt8);
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 255);
  EXPECT_EQ(p.zero_point, 64);  // round(0 + 1 / (4/255)) = round(63.75)
  p = quant::activationParams(-1, 3, DType::kInt8);
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 255);
  EXPECT_EQ(p.zero_point, -64);  // round(-128 + 63.75)
  p = quant::activationParams(0.5f, 2, DType::kUInt8);  // range extended down to 0
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 255);
  EXPECT_EQ(p.zero_point, 0);
  p = quant::activationParams(0, 0, DType::kUInt8);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero_point, 0);
  double low = 0, high = 0;
  quant::representableRange(quant::activationParams(0, 6, DType::kUInt8), &low, &high);
  EXPECT_DOUBLE_EQ(low, 0);
  EXPECT_NEAR(high, 6, 1e-6);
}

Tensor floatTensor(std::vector<int64_t> shape, std::vector<float> values) {
  return Tensor::fromValues<float>(DType::kFloat, std::move(shape), values);
}

std::vector<int> int8Values(const Tensor& t) {
  std::vector<int> v;
  for (int64_t i = 0; i < t.elementCount(); ++i) v.push_back(t.dataAs<int8_t>()[i]);
  return v;
}

TEST(QuantMath, WeightsSymmetricPerChannelAndPerTensor) {
  Tensor w = floatTensor({2, 3}, {1.0f, -2.54f, 0.3f, 0.1f, -0.254f, 0.062f});
  auto q = quant::quantizeWeight(w, 0, 127);  // scales 2.54/127 = 0.02 and 0.254/127 = 0.002
  ASSERT_EQ(q.scales.size(), 2u);
  EXPECT_FLOAT_EQ(q.scales[0], 0.02f);
  EXPECT_FLOAT_EQ(q.scales[1], 0.002f);
  EXPECT_EQ(int8Values(q.values), (std::vector<int>{50, -127, 15, 50, -127, 31}));
  q = quant::quantizeWeight(w, -1, 127);  // one scale 0.02: 0.1/0.02 = 5, -12.7 -> -13, 3.1 -> 3
  ASSERT_EQ(q.scales.size(), 1u);
  EXPECT_EQ(int8Values(q.values), (std::vector<int>{50, -127, 15, 5, -13, 3}));
  q = quant::quantizeWeight(w, -1, 63);  // reduced range: scale 2.54/63
  EXPECT_FLOAT_EQ(q.scales[0], 2.54f / 63);
  EXPECT_EQ(int8Values(q.values), (std::vector<int>{25, -63, 7, 2, -6, 2}));
  q = quant::quantizeWeight(w, 1, 127);  // per column: max 1.0, 2.54, 0.3
  EXPECT_FLOAT_EQ(q.scales[2], 0.3f / 127);
  EXPECT_EQ(int8Values(q.values)[2], 127);
  EXPECT_EQ(int8Values(q.values)[5], 26);  // 0.062 / (0.3/127) = 26.25
  q = quant::quantizeWeight(floatTensor({2}, {0, 0}), -1, 127);
  EXPECT_EQ(q.scales[0], 1.0f);  // all zero: any scale works, 1 keeps it finite
}

TEST(QuantMath, BiasInt32WithInputTimesWeightScale) {
  auto q = quant::quantizeBias(floatTensor({2}, {0.5f, -1.0f}), 0.1f, {0.02f, 0.002f});
  EXPECT_FLOAT_EQ(q.scales[0], 0.1f * 0.02f);
  EXPECT_FLOAT_EQ(q.scales[1], 0.1f * 0.002f);
  EXPECT_EQ(q.values.dtype, DType::kInt32);
  EXPECT_EQ(q.values.dataAs<int32_t>()[0], 250);
  EXPECT_EQ(q.values.dataAs<int32_t>()[1], -5000);
  EXPECT_EQ(q.clipped, 0);
  q = quant::quantizeBias(floatTensor({1}, {1e9f}), 1e-3f, {1e-3f});
  EXPECT_EQ(q.clipped, 1);
  EXPECT_EQ(q.values.dataAs<int32_t>()[0], 2147483647);
}

// ---- graphs ------------------------------------------------------------------------------------

std::string values(int count, double seed, double amplitude = 0.5) {
  std::string s;
  for (int i = 0; i < count; ++i) s += (i ? ", " : "") + std::to_string(amplitude * std::sin(seed + 0.7 * i));
  return s;
}

// x -> Conv(w, b) -> Relu -> MaxPool -> Flatten -> Gemm(w2, b2) -> Softmax -> y
Model convNet(int opset = 13) {
  const std::string text = "<ir_version: 8, opset_import: [\"\" : " + std::to_string(opset) + R"(]>
    g (float[N, 2, 4, 4] x) => (float[N, 3] y)
    <float[3, 2, 3, 3] w = {)" + values(54, 0.1) + "}, float[3] b = {" + values(3, 1.0, 0.2) +
                           "}, float[3, 12] w2 = {" + values(36, 2.0) + "}, float[3] b2 = {" + values(3, 3.0, 0.1) + R"(}> {
      c = Conv<pads = [1, 1, 1, 1]>(x, w, b)
      r = Relu(c)
      p = MaxPool<kernel_shape = [2, 2], strides = [2, 2]>(r)
      f = Flatten(p)
      h = Gemm<transB = 1>(f, w2, b2)
      y = Softmax(h)
    })";
  onnx::ModelProto proto = test::parseText(text.c_str());
  return std::move(importModel(proto, "")).value();
}

Tensor randomBatch(int64_t n, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n * 32));
  uint64_t s = seed;
  for (float& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<float>((s >> 40) % 2001) / 1000.0f - 1.0f;  // [-1, 1]
  }
  return floatTensor({n, 2, 4, 4}, v);
}

ActivationRanges calibrateOn(const Model& model, const Tensor& batch) {
  Dataset data;
  data.addInput("x", arraySource(batch, "batch"));
  auto ranges = calibrate(model, data, {});
  EXPECT_TRUE(ranges.isOk()) << ranges.status().message();
  return *ranges;
}

std::vector<const Node*> nodesOf(const Model& m, const std::string& op) {
  std::vector<const Node*> out;
  for (Node* n : m.graph->nodes())
    if (n->op_type == op) out.push_back(n);
  return out;
}

const Node* qOf(const Model& m, const std::string& value_name) {
  for (const Node* q : nodesOf(m, "QuantizeLinear"))
    if (q->input(0)->name() == value_name) return q;
  return nullptr;
}

double maxOutputDifference(const Model& a, const Model& b, const Tensor& x) {
  auto sa = Session::create(a);
  auto sb = Session::create(b);
  EXPECT_TRUE(sa.isOk() && sb.isOk());
  auto oa = (*sa)->run({{"x", x}});
  auto ob = (*sb)->run({{"x", x}});
  EXPECT_TRUE(oa.isOk() && ob.isOk()) << ob.status().message();
  double worst = 0;
  for (int64_t i = 0; i < (*oa)[0].elementCount(); ++i)
    worst = std::max(worst, std::fabs(double((*oa)[0].dataAs<float>()[i]) - (*ob)[0].dataAs<float>()[i]));
  return worst;
}

TEST(QuantizeQdq, ConvNetStructureAndNumbers) {
  Model model = convNet();
  const Model original = convNet();
  const Tensor batch = randomBatch(16, 7);
  const ActivationRanges ranges = calibrateOn(model, batch);
  auto result = quantizeQdq(model, ranges, {});
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(checkModel(model).result, CheckResult::kValid) << checkModel(model).message;

  // Relu merged into the Conv output's range; Softmax stays float on the Gemm output.
  EXPECT_TRUE(nodesOf(model, "Relu").empty());
  EXPECT_EQ(result->stats["merged_activations"], 1);
  EXPECT_EQ(nodesOf(model, "Softmax")[0]->input(0)->producer()->op_type, "Gemm");
  // Q/DQ on x, c (Conv output, with r's range), p (MaxPool output) and f (Flatten output);
  // 4 more DequantizeLinear for two weights and two biases.
  EXPECT_EQ(nodesOf(model, "QuantizeLinear").size(), 4u);
  EXPECT_EQ(nodesOf(model, "DequantizeLinear").size(), 8u);
  const Node* qx = qOf(model, "x");
  const Node* qc = qOf(model, "c");
  const Node* qp = qOf(model, "p");
  const Node* qf = qOf(model, "f");
  ASSERT_TRUE(qx && qc && qp && qf);
  // MaxPool and Flatten share the Conv output's scale (the same initializers).
  EXPECT_EQ(qp->input(1), qc->input(1));
  EXPECT_EQ(qf->input(1), qc->input(1));
  EXPECT_EQ(qf->input(2), qc->input(2));
  const ValueRange* r = ranges.find("r");
  const float c_scale = qc->input(1)->initializer()->dataAs<float>()[0];
  EXPECT_FLOAT_EQ(c_scale, r->max / 255);  // r's range [0, max]
  EXPECT_EQ(qc->input(2)->initializer()->dataAs<uint8_t>()[0], 0);
  const ValueRange* x = ranges.find("x");
  const float x_scale = qx->input(1)->initializer()->dataAs<float>()[0];
  EXPECT_FLOAT_EQ(x_scale, (x->max - x->min) / 255);

  // Conv weight: int8 per output channel over [-63, 63]; the DQ output keeps the name "w".
  const Node* conv = nodesOf(model, "Conv")[0];
  const Node* wdq = conv->input(1)->producer();
  ASSERT_EQ(wdq->op_type, "DequantizeLinear");
  EXPECT_EQ(conv->input(1)->name(), "w");
  EXPECT_EQ(wdq->attrInt("axis", -99), 0);
  const Tensor& wq = *wdq->input(0)->initializer();
  const Tensor& ws = *wdq->input(1)->initializer();
  const Tensor& wf = *original.graph->findValue("w")->initializer();
  ASSERT_EQ(wq.dtype, DType::kInt8);
  ASSERT_EQ(ws.shape, std::vector<int64_t>{3});
  for (int64_t c = 0; c < 3; ++c) {
    float m = 0;
    for (int64_t i = 0; i < 18; ++i) m = std::max(m, std::fabs(wf.dataAs<float>()[c * 18 + i]));
    EXPECT_FLOAT_EQ(ws.dataAs<float>()[c], m / 63);
    for (int64_t i = 0; i < 18; ++i)
      EXPECT_EQ(wq.dataAs<int8_t>()[c * 18 + i], static_cast<int8_t>(std::nearbyint(wf.dataAs<float>()[c * 18 + i] / ws.dataAs<float>()[c])));
  }
  // Conv bias: int32 with scale s_x * s_w[c].
  const Node* bdq = conv->input(2)->producer();
  ASSERT_EQ(bdq->op_type, "DequantizeLinear");
  const Tensor& bq = *bdq->input(0)->initializer();
  const Tensor& bs = *bdq->input(1)->initializer();
  const Tensor& bf = *original.graph->findValue("b")->initializer();
  ASSERT_EQ(bq.dtype, DType::kInt32);
  for (int64_t c = 0; c < 3; ++c) {
    EXPECT_EQ(bs.dataAs<float>()[c], x_scale * ws.dataAs<float>()[c]);
    EXPECT_EQ(bq.dataAs<int32_t>()[c], static_cast<int32_t>(std::nearbyint(bf.dataAs<float>()[c] / bs.dataAs<float>()[c])));
  }
  // Gemm with transB: per-channel along axis 0 of w2. No float weights remain.
  const Node* gemm = nodesOf(model, "Gemm")[0];
  EXPECT_EQ(gemm->input(1)->producer()->attrInt("axis", -99), 0);
  for (Value* v : model.graph->initializers()) EXPECT_NE(v->initializer()->dtype == DType::kFloat && v->initializer()->elementCount() > 3, true) << v->name();

  // Softmax outputs (probabilities) close to the float model's on the calibration data.
  EXPECT_LT(maxOutputDifference(original, model, batch), 0.03);
}

TEST(QuantizeQdq, ExcludedAndFloatNodesStayFloat) {
  Model model = convNet();
  ActivationRanges ranges = calibrateOn(model, randomBatch(8, 3));
  ranges.float_nodes = {"Gemm"};
  QuantizeOptions options;
  options.exclude = {"C?nv"};  // a glob on the op type
  auto result = quantizeQdq(model, ranges, options);
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(nodesOf(model, "Conv")[0]->input(1)->name(), "w");
  EXPECT_EQ(nodesOf(model, "Conv")[0]->input(1)->initializer()->dtype, DType::kFloat);
  EXPECT_EQ(nodesOf(model, "Gemm")[0]->input(1)->initializer()->dtype, DType::kFloat);
  EXPECT_EQ(qOf(model, "x"), nullptr);
  EXPECT_EQ(qOf(model, "f"), nullptr);  // nothing quantized reads the Flatten output
  EXPECT_NE(qOf(model, "c"), nullptr);  // MaxPool still quantized, with the Relu merged
  EXPECT_EQ(result->stats["kept_float"].size(), 2u);
}

// Per-channel weights need DequantizeLinear's axis (opset 13): an opset-12 model is raised to 13
// (Conv and Relu mean the same there); per-tensor weights keep opset 12 and use no axis.
TEST(QuantizeQdq, PerChannelNeedsOpset13) {
  Model raised = convNet(12);
  const ActivationRanges ranges = calibrateOn(raised, randomBatch(4, 1));
  auto result = quantizeQdq(raised, ranges, {});
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(raised.opsetVersion(""), 13);
  EXPECT_EQ(result->stats["opset_upgrade"]["from"], 12);
  EXPECT_EQ(checkModel(raised).result, CheckResult::kValid) << checkModel(raised).message;
  Model model = convNet(12);
  QuantizeOptions per_tensor;
  per_tensor.per_channel = false;
  ASSERT_TRUE(quantizeQdq(model, ranges, per_tensor).isOk());
  EXPECT_EQ(model.opsetVersion(""), 12);
  EXPECT_EQ(checkModel(model).result, CheckResult::kValid) << checkModel(model).message;
  for (const Node* dq : nodesOf(model, "DequantizeLinear")) EXPECT_EQ(dq->attr("axis"), nullptr);
}

// x -> MatMul(x, W from a Constant node) -> Add(const) -> Clip(lo, 6 as Constant nodes) -> MatMul(W2) -> y
Model clipNet(float clip_min) {
  const std::string text = std::string(R"(
    <ir_version: 8, opset_import: ["" : 13]>
    g (float[N, 4] x) => (float[N, 2] y) <float[4, 2] w2 = {)") + values(8, 5.0) + R"(}> {
      w = Constant<value = float[4, 4] {)" + values(16, 4.0) + R"(}>()
      bias = Constant<value = float[4] {0.1, -0.2, 0.3, 0.05}>()
      lo = Constant<value = float {)" + std::to_string(clip_min) + R"(}>()
      hi = Constant<value = float {6.0}>()
      m = MatMul(x, w)
      a = Add(m, bias)
      c = Clip(a, lo, hi)
      y = MatMul(c, w2)
    })";
  onnx::ModelProto proto = test::parseText(text.c_str());
  return std::move(importModel(proto, "")).value();
}

ActivationRanges calibrateClipNet(const Model& model) {
  std::vector<float> v;
  for (int i = 0; i < 64; ++i) v.push_back(static_cast<float>(std::sin(0.37 * i) * 4));
  Dataset data;
  data.addInput("x", arraySource(floatTensor({16, 4}, v), "x"));
  return *calibrate(model, data, {});
}

TEST(QuantizeQdq, ConstantNodeWeightsAndClipMerging) {
  Model model = clipNet(0);
  const ActivationRanges ranges = calibrateClipNet(model);
  ASSERT_LE(ranges.find("c")->max, 6.0f);
  auto result = quantizeQdq(model, ranges, {});
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(checkModel(model).result, CheckResult::kValid) << checkModel(model).message;
  // Clip(0, 6) merged into the Add output; its bound Constants and the float weight gone.
  EXPECT_TRUE(nodesOf(model, "Clip").empty());
  EXPECT_TRUE(nodesOf(model, "Constant").empty());
  const Node* matmul = nodesOf(model, "MatMul")[0];
  const Node* wdq = matmul->input(1)->producer();
  ASSERT_EQ(wdq->op_type, "DequantizeLinear");
  EXPECT_EQ(wdq->attrInt("axis", -99), 1);  // MatMul weights per output column
  EXPECT_EQ(wdq->input(0)->initializer()->dtype, DType::kInt8);
  EXPECT_EQ(wdq->input(1)->initializer()->shape, std::vector<int64_t>{4});
  // Add's constant: int8, one scale.
  const Node* add = nodesOf(model, "Add")[0];
  EXPECT_EQ(add->input(1)->producer()->op_type, "DequantizeLinear");
  EXPECT_EQ(add->input(1)->producer()->input(1)->initializer()->shape, std::vector<int64_t>{});
  // The second MatMul reads the Add output quantized with the Clip output's range.
  const Node* qa = qOf(model, "a");
  ASSERT_NE(qa, nullptr);
  EXPECT_FLOAT_EQ(qa->input(1)->initializer()->dataAs<float>()[0], ranges.find("c")->max / 255);
}

TEST(QuantizeQdq, ClipNotMergedWhenQuantizeCannotClampExactly) {
  Model model = clipNet(0.5f);  // quantized ranges always hold 0, which Clip(0.5, 6) excludes
  const ActivationRanges ranges = calibrateClipNet(model);
  auto result = quantizeQdq(model, ranges, {});
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(nodesOf(model, "Clip").size(), 1u);
  EXPECT_EQ(result->stats["merged_activations"], 0);
  EXPECT_NE(qOf(model, "c"), nullptr);
  EXPECT_EQ(qOf(model, "a"), nullptr);  // Clip stays float, reading the float Add output
}

TEST(QuantizeQdq, WeightSharedAlongTwoAxes) {
  // One constant read by MatMul (per column, axis 1) and by Gemm with transB (axis 0).
  const std::string text = std::string(R"(
    <ir_version: 8, opset_import: ["" : 13]>
    g (float[N, 4] x) => (float[N, 4] y) <float[4, 4] w = {)") + values(16, 1.5) + R"(}> {
      a = MatMul(x, w)
      b = Gemm<transB = 1>(x, w)
      y = Add(a, b)
    })";
  onnx::ModelProto proto = test::parseText(text.c_str());
  Model model = std::move(importModel(proto, "")).value();
  std::vector<float> v;
  for (int i = 0; i < 32; ++i) v.push_back(static_cast<float>(std::cos(0.3 * i)));
  Dataset data;
  data.addInput("x", arraySource(floatTensor({8, 4}, v), "x"));
  const ActivationRanges ranges = *calibrate(model, data, {});
  ASSERT_TRUE(quantizeQdq(model, ranges, {}).isOk());
  EXPECT_EQ(checkModel(model).result, CheckResult::kValid) << checkModel(model).message;
  const Node* matmul = nodesOf(model, "MatMul")[0];
  const Node* gemm = nodesOf(model, "Gemm")[0];
  EXPECT_EQ(matmul->input(1)->producer()->attrInt("axis", -99), 1);
  EXPECT_EQ(gemm->input(1)->producer()->attrInt("axis", -99), 0);
  EXPECT_EQ(matmul->input(1)->name(), "w");  // the first copy takes the freed name
  EXPECT_NE(gemm->input(1)->name(), "w");
  EXPECT_EQ(model.graph->findValue("w")->initializer(), nullptr);
}

TEST(QuantizeQdq, DeterministicBytes) {
  std::string first;
  for (int round = 0; round < 2; ++round) {
    Model model = convNet();
    const ActivationRanges ranges = calibrateOn(model, randomBatch(8, 11));
    ASSERT_TRUE(quantizeQdq(model, ranges, {}).isOk());
    auto bytes = serializeModel(model);
    ASSERT_TRUE(bytes.isOk());
    if (round == 0) first = *bytes;
    else EXPECT_TRUE(first == *bytes);
  }
}

TEST(QuantizePass, PipelineOptionsAndMetadata) {
  Model model = convNet();
  const ActivationRanges ranges = calibrateOn(model, randomBatch(8, 5));
  auto specs = parsePipeline("quantize{per_channel=false,activations=int8,exclude=Softmax+Gemm,reduce_range=false}");
  ASSERT_TRUE(specs.isOk());
  auto pass = createPass(specs->at(0));
  ASSERT_TRUE(pass.isOk()) << pass.status().message();
  PassContext context;
  EXPECT_NE((*pass)->run(model, context).status().message().find("needs calibration data or a ranges file"), std::string::npos);
  context.ranges = &ranges;
  auto result = (*pass)->run(model, context);
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(qOf(model, "x")->input(2)->initializer()->dtype, DType::kInt8);
  EXPECT_EQ(nodesOf(model, "Gemm")[0]->input(1)->name(), "w2");
  EXPECT_EQ(nodesOf(model, "Gemm")[0]->input(1)->initializer()->dtype, DType::kFloat);
  std::map<std::string, std::string> meta(model.metadata_props.begin(), model.metadata_props.end());
  EXPECT_EQ(meta["nncompress.version"], NNC_VERSION);
  EXPECT_EQ(meta["nncompress.calibration_digest"], ranges.digest);
  auto options = nlohmann::json::parse(meta["nncompress.quantize"]);
  EXPECT_EQ(options["weights"], "int8 symmetric per-tensor [-127,127]");
  EXPECT_EQ(options["activations"], "int8");
  EXPECT_EQ(options["exclude"], (std::vector<std::string>{"Softmax", "Gemm"}));
  EXPECT_NE(createPass({"quantize", {{"format", "qoperator"}}}).status().message().find("not supported"), std::string::npos);
  EXPECT_NE(createPass({"quantize", {{"calib", "kl"}}}).status().message().find("unknown calibration method"), std::string::npos);
}

}  // namespace
}  // namespace nnc

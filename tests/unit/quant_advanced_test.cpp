// Advanced post-training quantization methods: cross-layer equalization, SmoothQuant and bias
// correction. Each is checked for what it must keep (the float function, within 1e-4, for the
// two float rewrites; hand-computed scales on small graphs) and for the gain it claims, measured
// on a model where it matters: SQNR of the logits against the float model and top-1 accuracy
// on the Fashion-MNIST test split, with and without the method, same calibration.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <nlohmann/json.hpp>

#include "model_eval_util.h"
#include "nncompress/analysis/metrics.h"
#include "nncompress/data/dataset.h"
#include "nncompress/data/npy.h"
#include "nncompress/passes/quantize.h"
#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

// The calibration split (first `samples` images, uint8 / 255) as a dataset for `model`.
Dataset calibData(const Model& model, int64_t samples) {
  auto x = readNpy(test::bundledModelsDir() + "/data/fashion_mnist_calib_500_x.npy");
  EXPECT_TRUE(x.isOk());
  Tensor t = std::move(x).value();
  t.shape[0] = std::min(t.shape[0], samples);
  Dataset data;
  data.addInput(model.graph->inputs().at(0)->name(), arraySource(t, "calib"));
  Preprocess pre;
  pre.scale = 1.0 / 255.0;
  data.setPreprocess(pre);
  return data;
}

// The first `samples` test images as the model's input tensor.
std::vector<std::pair<std::string, Tensor>> testInputs(const Model& model, int64_t samples) {
  auto x = readNpy(test::bundledModelsDir() + "/data/fashion_mnist_test_2000_x.npy");
  EXPECT_TRUE(x.isOk());
  std::vector<int64_t> shape = x->shape;
  shape[0] = samples;
  const int64_t per = x->elementCount() / x->shape[0];
  std::vector<float> v(static_cast<size_t>(samples * per));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(elementAsDouble(*x, static_cast<int64_t>(i)) / 255.0);
  return {{model.graph->inputs().at(0)->name(), Tensor::fromValues<float>(DType::kFloat, shape, v)}};
}

// Runs one pass (pipeline text) with calibration data in the context.
PassResult runWithData(Model& model, const std::string& text, const Dataset* data) {
  auto specs = parsePipeline(text);
  EXPECT_TRUE(specs.isOk()) << specs.status().message();
  auto pass = createPass(specs->at(0));
  EXPECT_TRUE(pass.isOk()) << pass.status().message();
  PassContext context;
  context.data = data;
  auto result = (*pass)->run(model, context);
  EXPECT_TRUE(result.isOk()) << result.status().message();
  return result.isOk() ? *result : PassResult{};
}

Model prepared(const std::string& name) {
  Model model = test::loadBundled(name);
  test::runPassText(model, "canonicalize");
  return model;
}

// Signal-to-quantization-noise ratio (dB) of `approx` against `exact`.
double sqnr(const std::vector<float>& exact, const std::vector<float>& approx) {
  double signal = 0, noise = 0;
  for (size_t i = 0; i < exact.size(); ++i) {
    signal += static_cast<double>(exact[i]) * exact[i];
    noise += (static_cast<double>(exact[i]) - approx[i]) * (static_cast<double>(exact[i]) - approx[i]);
  }
  return 10 * std::log10(signal / noise);
}

double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

struct Measured {
  double sqnr_db = 0;
  int64_t correct = 0;
};

Measured measure(const Model& reference, const Model& quantized, int64_t samples) {
  auto inputs = testInputs(reference, samples);
  Measured m;
  m.sqnr_db = sqnr(test::runModel(reference, inputs).at(0), test::runModel(quantized, inputs).at(0));
  m.correct = test::top1Correct(quantized);
  return m;
}

// Outlier channels as large transformers have them: the LayerNormalization gain and bias of a
// few channels multiplied by `factor` and the rows of the MatMul weights reading them divided by
// it. The function is the same; the activations have a few channels `factor` times larger.
void injectOutliers(Model& model, float factor) {
  const std::vector<size_t> channels = {5, 23, 41};
  auto scaleEntries = [&](Value* v, bool rows, float by) {
    auto ref = constantRefOf(v);
    ASSERT_TRUE(ref.has_value());
    const Tensor& t = ref->tensor();
    std::vector<float> values(t.dataAs<float>(), t.dataAs<float>() + t.elementCount());
    const size_t cols = rows ? static_cast<size_t>(t.shape[1]) : 1;
    for (size_t c : channels)
      for (size_t j = 0; j < cols; ++j) values[c * cols + j] *= by;
    ref->replace(Tensor::fromValues<float>(DType::kFloat, t.shape, values));
  };
  for (Node* n : model.graph->nodes()) {
    if (n->op_type != "LayerNormalization") continue;
    bool only_matmuls = true;
    for (const Value::Use& use : n->output(0)->uses())
      only_matmuls = only_matmuls && use.node->op_type == "MatMul" && use.input_index == 0 && constantRefOf(use.node->input(1));
    if (!only_matmuls) continue;
    scaleEntries(n->input(1), false, factor);
    scaleEntries(n->input(2), false, factor);
    for (const Value::Use& use : n->output(0)->uses()) scaleEntries(use.node->input(1), true, 1 / factor);
  }
}

using test::importText;

std::vector<float> constantValues(const Model& model, const std::string& name) {
  const Value* v = model.graph->findValue(name);
  EXPECT_NE(v, nullptr) << name;
  if (v == nullptr) return {};
  auto ref = constantRefOf(const_cast<Value*>(v));
  EXPECT_TRUE(ref.has_value()) << name;
  const Tensor& t = ref->tensor();
  return std::vector<float>(t.dataAs<float>(), t.dataAs<float>() + t.elementCount());
}

using test::countOps;

nlohmann::json quantizeRecord(const Model& model) {
  for (const auto& [key, value] : model.metadata_props)
    if (key == "nncompress.quantize") return nlohmann::json::parse(value);
  ADD_FAILURE() << "no nncompress.quantize metadata";
  return {};
}

// Conv(1->2, 1x1) -> Clip(0, 6) -> Conv(2->1, 1x1). Channel ranges r1 = {4, 1}, r2 = {1, 4}:
// s = sqrt(r1*r2)/r2 = {2, 0.5}, so both layers end with {2, 2}, the first bias {2, 1} becomes
// {1, 2} and the Clip's upper bound 6 becomes 6/s = {3, 12} per channel (Relu + Min).
const char* kConvPair = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,1,3,3] x) => (float[N,1,3,3] y) <float[2,1,1,1] w1 = {4.0, -1.0}, float[2] b1 = {2.0, 1.0}, float[1,2,1,1] w2 = {1.0, -4.0}, float lo = {0.0}, float hi = {6.0}> {
  a = Conv(x, w1, b1)
  r = Clip(a, lo, hi)
  y = Conv(r, w2)
}
)";

TEST(CrossLayerEqualization, BalancesChannelRangesAsComputedByHand) {
  Model model = importText(kConvPair);
  Model original = test::copyModel(model);
  PassResult result = test::runPassText(model, "cross-layer-equalization");
  EXPECT_EQ(result.stats["pairs"], 1);
  EXPECT_EQ(result.stats["clips_split"], 1);
  EXPECT_EQ(constantValues(model, "w1"), (std::vector<float>{2.0f, -2.0f}));
  EXPECT_EQ(constantValues(model, "b1"), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(constantValues(model, "w2"), (std::vector<float>{2.0f, -2.0f}));
  EXPECT_EQ(countOps(model, "Clip"), 0);
  EXPECT_EQ(countOps(model, "Relu"), 1);
  ASSERT_EQ(countOps(model, "Min"), 1);
  for (const Node* n : model.graph->nodes())
    if (n->op_type == "Min") EXPECT_EQ(constantValues(model, n->input(1)->name()), (std::vector<float>{3.0f, 12.0f}));
  // Inputs large enough that the clip's upper bound binds on both channels.
  auto inputs = test::seededInputs(model, 4, 7);
  for (auto& [name, t] : inputs) {
    std::vector<float> v(t.dataAs<float>(), t.dataAs<float>() + t.elementCount());
    for (float& x : v) x *= 10;
    t = Tensor::fromValues<float>(DType::kFloat, t.shape, v);
  }
  EXPECT_LT(maxAbsDiff(test::runModel(original, inputs).at(0), test::runModel(model, inputs).at(0)), 1e-5);
  EXPECT_TRUE(checkModel(model).result != CheckResult::kInvalid);
}

// The largest |weight| per output channel (first) or per input channel (second) of a Conv or Gemm,
// computed independently of the pass: Conv weight [O, I/g, k...]; Gemm with or without transB.
std::vector<double> channelRanges(const Node& n, bool output_side) {
  const Tensor& w = constantRefOf(n.input(1))->tensor();
  const float* p = w.dataAs<float>();
  std::vector<double> r;
  if (n.op_type == "Conv") {
    const int64_t groups = n.attrInt("group", 1), out = w.shape[0], in_per_group = w.shape[1];
    const int64_t kernel = w.elementCount() / (out * in_per_group);
    r.assign(static_cast<size_t>(output_side ? out : in_per_group * groups), 0.0);
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in_per_group; ++i)
        for (int64_t k = 0; k < kernel; ++k) {
          const size_t c = static_cast<size_t>(output_side ? o : (o / (out / groups)) * in_per_group + i);
          r[c] = std::max(r[c], static_cast<double>(std::fabs(p[(o * in_per_group + i) * kernel + k])));
        }
  } else {
    const bool trans_b = n.attrInt("transB", 0) != 0;
    const int64_t rows = w.shape[0], cols = w.shape[1];
    r.assign(static_cast<size_t>(output_side == trans_b ? rows : cols), 0.0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const size_t c = static_cast<size_t>(output_side == trans_b ? i : j);
        r[c] = std::max(r[c], static_cast<double>(std::fabs(p[i * cols + j])));
      }
  }
  return r;
}

// After equalization, every pair's channel ranges are equal on both sides (to the convergence
// tolerance), and the function is unchanged. mlp: Gemm(transB) -> Relu -> Gemm -> Relu -> Gemm;
// resnet_small: conv1 -> Relu -> conv2 inside each of the four blocks (the other convs feed a
// residual Add or read a value with two readers, which is not rescalable).
TEST(CrossLayerEqualization, EqualizesGemmAndResidualNetworksExactly) {
  for (const auto& [name, pairs] : {std::make_pair("mlp", 2), std::make_pair("resnet_small", 4)}) {
    Model base = prepared(name);
    Model cle = test::copyModel(base);
    PassResult result = test::runPassText(cle, "cross-layer-equalization{iterations=400,tolerance=1e-9}");
    EXPECT_EQ(result.stats["pairs"], pairs) << name;
    auto inputs = testInputs(base, 100);
    EXPECT_LT(maxAbsDiff(test::runModel(base, inputs).at(0), test::runModel(cle, inputs).at(0)), 1e-4) << name;
    int checked = 0;
    for (const Node* n : cle.graph->nodes()) {
      if (n->op_type != "Relu") continue;
      const Node* first = n->input(0)->producer();
      if (first == nullptr || (first->op_type != "Conv" && first->op_type != "Gemm") || n->output(0)->uses().size() != 1) continue;
      const Node* second = n->output(0)->uses()[0].node;
      if (second->op_type != "Conv" && second->op_type != "Gemm") continue;
      const std::vector<double> r1 = channelRanges(*first, true), r2 = channelRanges(*second, false);
      ASSERT_EQ(r1.size(), r2.size());
      for (size_t c = 0; c < r1.size(); ++c) EXPECT_NEAR(r1[c], r2[c], 1e-5 * std::max(1.0, r1[c])) << name << " channel " << c;
      ++checked;
    }
    EXPECT_EQ(checked, pairs) << name;
  }
}

// x [N,2] -> MatMul(W). Calibration rows {1, -8} and {0.5, 2}: max|X| = {1, 8}; max|W_j| over row
// j = {2, 4}; alpha 0.5: s = {sqrt(1/2), sqrt(8/4)}. No LayerNormalization to fold into: a Div.
TEST(SmoothQuant, ScalesAsComputedByHand) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,2] x) => (float[N,2] y) <float[2,2] w = {2.0, 0.5, -1.0, 4.0}> {
  y = MatMul(x, w)
}
)");
  Model original = test::copyModel(model);
  Dataset data;
  data.addInput("x", arraySource(Tensor::fromValues<float>(DType::kFloat, {2, 2}, {1.0f, -8.0f, 0.5f, 2.0f}), "x"));
  PassResult result = runWithData(model, "smoothquant{alpha=0.5}", &data);
  EXPECT_EQ(result.stats["layers"], 1);
  EXPECT_EQ(result.stats["divs_inserted"], 1);
  const float s0 = std::sqrt(0.5f), s1 = std::sqrt(2.0f);
  const std::vector<float> w = constantValues(model, "w");
  const std::vector<float> expected = {2 * s0, 0.5f * s0, -1 * s1, 4 * s1};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(w[i], expected[i], 1e-6) << i;
  ASSERT_EQ(countOps(model, "Div"), 1);
  for (const Node* n : model.graph->nodes())
    if (n->op_type == "Div") {
      const std::vector<float> s = constantValues(model, n->input(1)->name());
      EXPECT_NEAR(s[0], s0, 1e-6);
      EXPECT_NEAR(s[1], s1, 1e-6);
    }
  auto inputs = test::seededInputs(model, 5, 3);
  EXPECT_LT(maxAbsDiff(test::runModel(original, inputs).at(0), test::runModel(model, inputs).at(0)), 1e-5);
}

// Add(Mul(x, gamma), beta) -> MatMul: the decomposed LayerNormalization of older exports takes
// the division (gamma and beta / s), no Div. Calibration: X = x*gamma + beta on rows {1, 1} and
// {-1, 2} = {3, -1.5} and {-1, -2}: max|X| = {3, 2}; max|W_j| = {1, 6}; alpha 0.5.
TEST(SmoothQuant, FoldsIntoDecomposedLayerNorm) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,2] x) => (float[N,2] y) <float[2] gamma = {2.0, -0.5}, float[1,2] beta = {1.0, -1.0}, float[2,2] w = {1.0, -0.5, 6.0, 3.0}> {
  t = Mul(x, gamma)
  n = Add(t, beta)
  y = MatMul(n, w)
}
)");
  Model original = test::copyModel(model);
  Dataset data;
  data.addInput("x", arraySource(Tensor::fromValues<float>(DType::kFloat, {2, 2}, {1.0f, 1.0f, -1.0f, 2.0f}), "x"));
  PassResult result = runWithData(model, "smoothquant", &data);
  EXPECT_EQ(result.stats["folded_into_mul_add"], 1);
  EXPECT_EQ(result.stats["divs_inserted"], 0);
  EXPECT_EQ(countOps(model, "Div"), 0);
  const double s0 = std::sqrt(3.0 / 1.0), s1 = std::sqrt(2.0 / 6.0);
  const std::vector<float> gamma = constantValues(model, "gamma"), beta = constantValues(model, "beta"), w = constantValues(model, "w");
  EXPECT_NEAR(gamma[0], 2.0 / s0, 1e-6);
  EXPECT_NEAR(gamma[1], -0.5 / s1, 1e-6);
  EXPECT_NEAR(beta[0], 1.0 / s0, 1e-6);
  EXPECT_NEAR(beta[1], -1.0 / s1, 1e-6);
  EXPECT_NEAR(w[0], 1.0 * s0, 1e-6);
  EXPECT_NEAR(w[3], 3.0 * s1, 1e-6);
  auto inputs = test::seededInputs(model, 5, 11);
  EXPECT_LT(maxAbsDiff(test::runModel(original, inputs).at(0), test::runModel(model, inputs).at(0)), 1e-5);
}

TEST(SmoothQuant, NeedsCalibrationData) {
  Model model = prepared("tiny_transformer");
  auto pass = createPass({"smoothquant", {}});
  ASSERT_TRUE(pass.isOk());
  PassContext context;
  auto result = (*pass)->run(model, context);
  ASSERT_FALSE(result.isOk());
  EXPECT_NE(result.status().message().find("calibration data"), std::string::npos);
  EXPECT_FALSE(createPass({"smoothquant", {{"alpha", "1.5"}}}).isOk());
}

// mobilenet_small, weights int8 per tensor (7-bit, the default range): one scale for all the
// channels of a depthwise conv, whose ranges differ widely. Measured (200 calibration images):
// logits SQNR 26.9 dB without, 32.8 dB with CLE, 31.5 dB with bias correction, 36.8 dB with both.
TEST(QuantAdvancedGain, CrossLayerEqualizationAndBiasCorrectionOnPerTensorMobileNet) {
  Model base = prepared("mobilenet_small");
  Dataset data = calibData(base, 200);
  const int64_t float_correct = test::top1Correct(base);

  Model cle = test::copyModel(base);
  PassResult equalized = runWithData(cle, "cross-layer-equalization", &data);
  EXPECT_EQ(equalized.stats["pairs"], 10);  // stem -> dw1 -> pw1 -> ... -> pw5 (then GAP, Flatten)
  EXPECT_EQ(equalized.stats["clips_split"], 10);
  auto inputs = testInputs(base, 200);
  EXPECT_LT(maxAbsDiff(test::runModel(base, inputs).at(0), test::runModel(cle, inputs).at(0)), 1e-4);

  const std::string quantize = "quantize{per_channel=false}";
  const std::string corrected = "quantize{per_channel=false,bias_correction=true}";
  Model plain = test::copyModel(base);
  runWithData(plain, quantize, &data);
  Model cle_q = test::copyModel(cle);
  runWithData(cle_q, quantize, &data);
  Model bc_q = test::copyModel(base);
  PassResult bc_result = runWithData(bc_q, corrected, &data);
  Model both = test::copyModel(cle);
  runWithData(both, corrected, &data);

  const Measured m_plain = measure(base, plain, 500), m_cle = measure(base, cle_q, 500), m_bc = measure(base, bc_q, 500),
                 m_both = measure(base, both, 500);
  std::printf("mobilenet_small per-tensor: float %lld/2000; SQNR / correct: plain %.2f dB %lld, CLE %.2f dB %lld, "
              "bias correction %.2f dB %lld, both %.2f dB %lld\n",
              static_cast<long long>(float_correct), m_plain.sqnr_db, static_cast<long long>(m_plain.correct), m_cle.sqnr_db,
              static_cast<long long>(m_cle.correct), m_bc.sqnr_db, static_cast<long long>(m_bc.correct), m_both.sqnr_db,
              static_cast<long long>(m_both.correct));
  EXPECT_GT(m_cle.sqnr_db, m_plain.sqnr_db + 4.0);
  EXPECT_GT(m_cle.correct, m_plain.correct);
  EXPECT_GT(m_bc.sqnr_db, m_plain.sqnr_db + 3.0);
  EXPECT_GT(m_both.sqnr_db, m_cle.sqnr_db + 2.0);
  EXPECT_GE(m_both.correct, float_correct - 6);  // within 0.3 point of float

  EXPECT_EQ(bc_result.stats["bias_correction"]["layers"], 12);  // 11 convs and the Gemm
  EXPECT_EQ(bc_result.stats["bias_correction"]["levels"], 12);  // a chain: one level each
  const nlohmann::json record = quantizeRecord(both);
  EXPECT_EQ(record["cross_layer_equalization"]["pairs"], 10);
  EXPECT_EQ(record["bias_correction"]["layers"], 12);
  EXPECT_FALSE(quantizeRecord(plain).contains("bias_correction"));
  EXPECT_TRUE(checkModel(both).result != CheckResult::kInvalid);
}

// Bias correction's own claim: on the data it was computed on, the quantized model's mean logit
// per class equals the float model's, to within a fraction of the logits' shift without it.
TEST(QuantAdvancedGain, BiasCorrectionRemovesTheMeanShiftOfTheLogits) {
  Model base = prepared("mobilenet_small");
  Dataset data = calibData(base, 200);
  Model plain = test::copyModel(base), bc = test::copyModel(base);
  runWithData(plain, "quantize{per_channel=false}", &data);
  runWithData(bc, "quantize{per_channel=false,bias_correction=true}", &data);
  auto x = readNpy(test::bundledModelsDir() + "/data/fashion_mnist_calib_500_x.npy");
  ASSERT_TRUE(x.isOk());
  std::vector<float> v(static_cast<size_t>(200 * 784));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(elementAsDouble(*x, static_cast<int64_t>(i)) / 255.0);
  std::vector<std::pair<std::string, Tensor>> inputs = {{"input", Tensor::fromValues<float>(DType::kFloat, {200, 1, 28, 28}, v)}};
  auto meanShift = [&](const Model& q) {
    const std::vector<float> f = test::runModel(base, inputs).at(0), y = test::runModel(q, inputs).at(0);
    double total = 0;
    for (size_t c = 0; c < 10; ++c) {
      double d = 0;
      for (size_t i = 0; i < 200; ++i) d += f[i * 10 + c] - y[i * 10 + c];
      total += std::fabs(d / 200);
    }
    return total / 10;
  };
  const double before = meanShift(plain), after = meanShift(bc);
  std::printf("mean |E[logit_float - logit_int8]|: %.4f without, %.4f with bias correction\n", before, after);
  EXPECT_LT(after, before / 4);
}

// tiny_transformer with outlier channels (see injectOutliers), activations int8: a per-tensor
// activation scale set by three channels 40x larger leaves the others a few levels, unless
// SmoothQuant moves the outliers into the weights. Measured (200 calibration images): SQNR
// 15.9 dB / 86.15% without, 34.3 dB / 88.05% with (float: 88.05%).
TEST(QuantAdvancedGain, SmoothQuantOnTransformerWithOutlierChannels) {
  Model base = prepared("tiny_transformer");
  Model original = test::copyModel(base);
  injectOutliers(base, 40);
  auto inputs = testInputs(base, 200);
  ASSERT_LT(maxAbsDiff(test::runModel(original, inputs).at(0), test::runModel(base, inputs).at(0)), 1e-4);
  Dataset data = calibData(base, 200);

  Model smooth = test::copyModel(base);
  PassResult smoothed = runWithData(smooth, "smoothquant", &data);
  EXPECT_EQ(smoothed.stats["folded_into_layernorm"], 4);  // ln1 -> q/k/v and ln2 -> fc1, two layers
  EXPECT_LT(maxAbsDiff(test::runModel(base, inputs).at(0), test::runModel(smooth, inputs).at(0)), 1e-4);

  const std::string quantize = "quantize{activations=int8}";
  Model plain = test::copyModel(base);
  runWithData(plain, quantize, &data);
  runWithData(smooth, quantize, &data);
  const Measured m_plain = measure(base, plain, 500), m_smooth = measure(base, smooth, 500);
  const int64_t float_correct = test::top1Correct(base);
  std::printf("tiny_transformer + outliers, int8 activations: float %lld/2000; plain %.2f dB %lld, SmoothQuant %.2f dB %lld\n",
              static_cast<long long>(float_correct), m_plain.sqnr_db, static_cast<long long>(m_plain.correct), m_smooth.sqnr_db,
              static_cast<long long>(m_smooth.correct));
  EXPECT_GT(m_smooth.sqnr_db, m_plain.sqnr_db + 10.0);
  EXPECT_GT(m_smooth.correct, m_plain.correct + 20);
  EXPECT_GE(m_smooth.correct, float_correct - 6);
  const nlohmann::json record = quantizeRecord(smooth);
  EXPECT_EQ(record["smoothquant"]["alpha"], 0.5);
  EXPECT_EQ(record["smoothquant"]["samples"], 200);
  EXPECT_TRUE(checkModel(smooth).result != CheckResult::kInvalid);
}

// The bundled tiny_transformer has no strong outliers: SmoothQuant is exact in float and gains a
// little (measured 34.0 -> 34.3 dB).
TEST(QuantAdvancedGain, SmoothQuantOnBundledTransformer) {
  Model base = prepared("tiny_transformer");
  Dataset data = calibData(base, 200);
  Model smooth = test::copyModel(base);
  runWithData(smooth, "smoothquant", &data);
  auto inputs = testInputs(base, 200);
  EXPECT_LT(maxAbsDiff(test::runModel(base, inputs).at(0), test::runModel(smooth, inputs).at(0)), 1e-4);
  Model plain = test::copyModel(base);
  runWithData(plain, "quantize{activations=int8}", &data);
  runWithData(smooth, "quantize{activations=int8}", &data);
  const auto in500 = testInputs(base, 500);
  const std::vector<float> f = test::runModel(base, in500).at(0);
  const double db_plain = sqnr(f, test::runModel(plain, in500).at(0)), db_smooth = sqnr(f, test::runModel(smooth, in500).at(0));
  std::printf("tiny_transformer, int8 activations: plain %.2f dB, SmoothQuant %.2f dB\n", db_plain, db_smooth);
  EXPECT_GT(db_smooth, db_plain);
}

// Conv layers without a bias get an int32 one for the correction. The first conv's channel 1 has
// weights 100x smaller than channel 0 and all positive, so a per-tensor scale rounds most of them
// to zero: its outputs' mean shifts, and so does the second conv's.
TEST(BiasCorrection, AddsBiasesToConvsWithoutOne) {
  std::ostringstream w1, w2;
  for (int o = 0; o < 2; ++o)
    for (int k = 0; k < 9; ++k) w1 << (o + k > 0 ? ", " : "") << (o == 0 ? 0.5 * std::sin(1.0 + k) : 0.004 + 0.001 * (k % 3));
  for (int o = 0; o < 3; ++o)
    for (int i = 0; i < 2; ++i) w2 << (o + i > 0 ? ", " : "") << (i == 0 ? 0.1 * (o + 1) : 20.0 - 5 * o);
  const std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,1,6,6] x) => (float[N,3,6,6] y) <float[2,1,3,3] w1 = {" + w1.str() +
                           "}, float[3,2,1,1] w2 = {" + w2.str() + "}> {\n"
                           "  a = Conv <pads = [1, 1, 1, 1]> (x, w1)\n  r = Relu(a)\n  y = Conv(r, w2)\n}\n";
  Model model = importText(text.c_str());
  auto calib = test::seededInputs(model, 64, 5);
  Dataset data;
  data.addInput("x", arraySource(calib.at(0).second, "x"));
  Model plain = test::copyModel(model), corrected = test::copyModel(model);
  runWithData(plain, "quantize{per_channel=false}", &data);
  PassResult result = runWithData(corrected, "quantize{per_channel=false,bias_correction=true}", &data);
  EXPECT_EQ(result.stats["bias_correction"]["layers"], 2);
  EXPECT_EQ(result.stats["bias_correction"]["levels"], 2);
  int with_bias = 0;
  for (const Node* n : corrected.graph->nodes()) with_bias += n->op_type == "Conv" && n->input(2) != nullptr ? 1 : 0;
  EXPECT_EQ(with_bias, 2);
  EXPECT_TRUE(checkModel(corrected).result != CheckResult::kInvalid);
  // Mean over the calibration samples of float - int8 output, per output channel.
  const std::vector<float> f = test::runModel(model, calib).at(0);
  auto shift = [&](const Model& q) {
    const std::vector<float> y = test::runModel(q, calib).at(0);
    double total = 0;
    for (size_t c = 0; c < 3; ++c) {
      double d = 0;
      for (size_t n = 0; n < 64; ++n)
        for (size_t i = 0; i < 36; ++i) d += f[(n * 3 + c) * 36 + i] - y[(n * 3 + c) * 36 + i];
      total += std::fabs(d / (64 * 36));
    }
    return total / 3;
  };
  const double before = shift(plain), after = shift(corrected);
  std::printf("conv pair without biases: mean |shift| %.5f without, %.5f with bias correction\n", before, after);
  EXPECT_GT(before, 0.01);
  EXPECT_LT(after, before / 10);
}

TEST(BiasCorrection, NeedsCalibrationData) {
  Model model = prepared("mlp");
  auto pass = createPass({"bias-correction", {}});
  ASSERT_TRUE(pass.isOk());
  EXPECT_EQ((*pass)->name(), "bias-correction");
  PassContext context;
  ActivationRanges ranges;
  context.ranges = &ranges;
  auto result = (*pass)->run(model, context);
  ASSERT_FALSE(result.isOk());
  EXPECT_NE(result.status().message().find("calibration data"), std::string::npos);
}

}  // namespace
}  // namespace nnc

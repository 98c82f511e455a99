// Opset upgrades (src/passes/opset_upgrade.h) from 9 and 11 to 13: each rewritten op computes what
// it did before (hand-computed values for the softmax family, the original model's outputs for the
// rest, ONNX Runtime on the upgraded file where available), refusals change nothing, and static
// quantization raises an opset-9 model to 13 for per-channel weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "model_eval_util.h"
#include "nncompress/analysis/calibration.h"
#include "nncompress/data/dataset.h"
#include "nncompress/data/random_inputs.h"
#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/quantize.h"
#include "passes/opset_upgrade.h"
#include "test_util.h"

namespace nnc {
namespace {

using test::importText;

using test::countOps;

std::vector<float> iota(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 7) % 11) - 1.0f;
  return v;
}

void expectValid(const Model& model) {
  CheckReport report = checkModel(model);
  EXPECT_EQ(report.result, CheckResult::kValid) << report.message;
}

void expectSameOutputs(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t o = 0; o < a.size(); ++o) {
    ASSERT_EQ(a[o].size(), b[o].size()) << "output " << o;
    for (size_t i = 0; i < a[o].size(); ++i) EXPECT_NEAR(a[o][i], b[o][i], 1e-6) << "output " << o << " [" << i << "]";
  }
}

// Opset 11 Softmax/LogSoftmax on axis 1 of a [2,3,4] tensor normalize each batch row's 12
// values together; opset 13 would normalize along axis 1 only. Squeeze/Unsqueeze/Split/ReduceSum
// take their lists as inputs from 13 on, Dropout its ratio from 12 on.
TEST(OpsetUpgrade, From11KeepsEveryOpsMeaning) {
  Model model = importText(R"(
<ir_version: 6, opset_import: ["" : 11]>
g (float[2,3,4] x) => (float[2,3,4] s, float[2,3,4] l, float[2,4] q, float[2,1,3,4] u, float[2,1,4] a, float[2,2,4] b, float[2,4] r, float[2,3,4] d, float[2,3,4] last) {
  s = Softmax <axis = 1> (x)
  l = LogSoftmax <axis = 1> (x)
  a, b = Split <axis = 1, split = [1, 2]> (x)
  q = Squeeze <axes = [1]> (a)
  u = Unsqueeze <axes = [1]> (x)
  r = ReduceSum <axes = [1], keepdims = 0> (x)
  d = Dropout <ratio = 0.25> (x)
  last = Softmax <axis = 2> (x)
}
)");
  Model original = test::copyModel(model);
  int64_t rewritten = 0;
  ASSERT_TRUE(upgradeOpset(model, 13, &rewritten).isOk());
  EXPECT_EQ(model.opsetVersion(""), 13);
  EXPECT_EQ(rewritten, 8);
  // Only the two softmaxes over a non-last axis need Flatten/Shape/Reshape around them.
  EXPECT_EQ(countOps(model, "Flatten"), 2);
  EXPECT_EQ(countOps(model, "Reshape"), 2);
  expectValid(model);

  const std::vector<float> xs = iota(24, 0.35f);
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {2, 3, 4}, xs);
  auto before = test::runModel(original, {{"x", x}});
  auto after = test::runModel(model, {{"x", x}});
  expectSameOutputs(before, after);
  // Hand reference for the coerced softmax: exp(x) / sum over each batch row's 12 values.
  for (int b = 0; b < 2; ++b) {
    double sum = 0;
    for (int i = 0; i < 12; ++i) sum += std::exp(static_cast<double>(xs[b * 12 + i]));
    for (int i = 0; i < 12; ++i) {
      EXPECT_NEAR(after[0][b * 12 + i], std::exp(xs[b * 12 + i]) / sum, 1e-6);
      EXPECT_NEAR(after[1][b * 12 + i], xs[b * 12 + i] - std::log(sum), 1e-5);
    }
  }

  if (test::ortMissing().empty()) {
    const std::string path = test::saveTemp(model, "opset_upgrade_11.onnx");
    expectSameOutputs(test::ortOutputs(path, {{"x", x}}), after);
  }
}

// Opset 9 goes through 11 (Slice and Clip attributes become inputs) to 13; Softmax's default
// axis (1) is the last one of a 2-D input, so it only gets the attribute.
TEST(OpsetUpgrade, From9ThroughEleven) {
  Model model = importText(R"(
<ir_version: 4, opset_import: ["" : 9]>
g (float[2,6] x) => (float[2,3] y) {
  c = Clip <min = -0.5, max = 0.75> (x)
  s = Slice <starts = [1], ends = [4], axes = [1]> (c)
  y = Softmax (s)
}
)");
  Model original = test::copyModel(model);
  int64_t rewritten = 0;
  ASSERT_TRUE(upgradeOpset(model, 13, &rewritten).isOk());
  EXPECT_EQ(model.opsetVersion(""), 13);
  EXPECT_GE(model.ir_version, 7);
  EXPECT_EQ(rewritten, 3);
  EXPECT_EQ(countOps(model, "Flatten"), 0);
  expectValid(model);
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {2, 6}, iota(12, 0.2f));
  expectSameOutputs(test::runModel(original, {{"x", x}}), test::runModel(model, {{"x", x}}));
}

TEST(OpsetUpgrade, RefusalChangesNothing) {
  Model model = importText(R"(
<ir_version: 6, opset_import: ["" : 11]>
g (float[1,1,2,2] x, float[0] roi, float[4] scales) => (float[1,1,4,4] y, float[1,1,2] z) {
  z = Squeeze <axes = [3]> (x)
  y = Resize <mode = "nearest", coordinate_transformation_mode = "tf_half_pixel_for_nn"> (x, roi, scales)
}
)");
  int64_t rewritten = 0;
  Status status = upgradeOpset(model, 13, &rewritten);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("tf_half_pixel_for_nn"), std::string::npos) << status.message();
  EXPECT_EQ(model.opsetVersion(""), 11);
  EXPECT_EQ(rewritten, 0);
  Node* squeeze = model.graph->nodes()[0];
  EXPECT_NE(squeeze->attr("axes"), nullptr);
  EXPECT_EQ(squeeze->inputs().size(), 1u);

  Model old = importText(R"(
<ir_version: 3, opset_import: ["" : 8]>
g (float[2] x) => (float[2] y) { y = Relu(x) }
)");
  EXPECT_FALSE(upgradeOpset(old, 13, &rewritten).isOk());
  EXPECT_EQ(old.opsetVersion(""), 8);
}

// Static quantization with per-channel weights raises an opset-9 model to 13 and says so.
TEST(OpsetUpgrade, StaticQuantizeRaisesOpset9To13) {
  Model model = importText(R"(
<ir_version: 4, opset_import: ["" : 9]>
g (float[1,2,4,4] x) => (float[1,6] y) <float[3,2,1,1] w = {0.5, -1, 0.25, 2, -0.75, 1}> {
  c = Conv <kernel_shape = [1, 1]> (x, w)
  r = Relu (c)
  f = Flatten <axis = 1> (r)
  s = Slice <starts = [0], ends = [6], axes = [1]> (f)
  y = Softmax (s)
}
)");
  ActivationRanges ranges;
  ranges.method = "minmax";
  for (const char* name : {"x", "c", "r", "f", "s", "y"}) {
    ValueRange range;
    range.name = name;
    range.min = range.observed_min = -2.0f;
    range.max = range.observed_max = 2.0f;
    ranges.values.push_back(range);
  }
  QuantizeOptions options;
  auto result = quantizeQdq(model, ranges, options);
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(model.opsetVersion(""), 13);
  EXPECT_EQ(result->stats["opset_upgrade"]["from"], 9);
  EXPECT_EQ(result->stats["opset_upgrade"]["to"], 13);
  EXPECT_GT(countOps(model, "DequantizeLinear"), 0);
  expectValid(model);
}

// PaddleOCR's text-direction classifier (Paddle2ONNX, opset 9, weights in Constant nodes):
// static per-channel int8 raises it to 13, the checker accepts it, the outputs stay close to the
// float model's, and ONNX Runtime computes what nncompress does.
TEST(OpsetUpgrade, PaddleOcrClassifierQuantizesStatically) {
  const char* home = std::getenv("HOME");
  const std::string path = std::string(home ? home : "") + "/.cache/nncompress/realmodels/models/ppocr_mobile_v2_cls.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path << " (tools/realmodels/fetch.sh)";
  auto loaded = loadModel(path);
  ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
  Model model = std::move(loaded).value();
  Model original = test::copyModel(model);
  auto calib = randomTensor(DType::kFloat, {8, 3, 48, 192}, 11);
  ASSERT_TRUE(calib.isOk());
  Dataset data;
  data.addInput("x", arraySource(*calib, "random"));
  auto ranges = calibrate(model, data, {});
  ASSERT_TRUE(ranges.isOk()) << ranges.status().message();
  auto result = quantizeQdq(model, *ranges, {});
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(result->stats["opset_upgrade"]["from"], 9);
  EXPECT_EQ(model.opsetVersion(""), 13);
  EXPECT_GE(result->stats["quantized_by_op"]["Conv"].get<int64_t>(), 50) << result->summary;
  expectValid(model);
  auto x = randomTensor(DType::kFloat, {1, 3, 48, 192}, 12);
  ASSERT_TRUE(x.isOk());
  auto f = test::runModel(original, {{"x", *x}}), q = test::runModel(model, {{"x", *x}});
  ASSERT_EQ(q.size(), 1u);
  ASSERT_EQ(q[0].size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(q[0][i], f[0][i], 0.1) << i;  // two class probabilities
  if (test::ortMissing().empty()) {
    auto ort = test::ortOutputs(test::saveTemp(model, "ppocr_cls_int8.onnx"), {{"x", *x}});
    ASSERT_EQ(ort.size(), 1u);
    for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(ort[0][i], q[0][i], 0.02) << i;
  }
}

}  // namespace
}  // namespace nnc

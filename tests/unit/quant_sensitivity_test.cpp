// Accuracy-aware quantization (passes/quant_sensitivity.h) on a bundled classifier: the scores
// the search reports are checked against independent evaluations (top-1 accuracy or argmax
// agreement on the first test samples, counted here), the written model meets the
// budget, the nodes put back to float are float in it and were chosen most sensitive first, and
// the time budget ends the search with the best model found so far.
#include <gtest/gtest.h>

#include <algorithm>

#include "model_eval_util.h"
#include "nncompress/analysis/metrics.h"
#include "nncompress/data/npy.h"
#include "nncompress/passes/quant_sensitivity.h"

namespace nnc {
namespace {

constexpr int64_t kEvalSamples = 600;  // the search and the references below use the first 600

struct Fixture {
  Model model;
  ActivationRanges ranges;
  Dataset data;
};

Tensor readArray(const std::string& name) {
  auto t = readNpy(test::bundledModelsDir() + "/data/" + name);
  EXPECT_TRUE(t.isOk()) << t.status().message();
  return *t;
}

// The model canonicalized (as the CLI does), calibrated on 200 calibration samples, and the test
// split as evaluation data.
Fixture prepare(const std::string& name, int64_t calib_samples = 200) {
  Fixture f{test::loadBundled(name), {}, {}};
  test::runPassText(f.model, "canonicalize");
  const std::string input = f.model.graph->inputs().at(0)->name();
  Preprocess pre;
  pre.scale = 1.0 / 255.0;
  Dataset calib;
  calib.addInput(input, arraySource(readArray("fashion_mnist_calib_500_x.npy"), "calib"));
  calib.setPreprocess(pre);
  CalibrationOptions options;
  options.max_samples = calib_samples;
  auto ranges = calibrate(f.model, calib, options);
  EXPECT_TRUE(ranges.isOk()) << ranges.status().message();
  f.ranges = *ranges;
  f.data.addInput(input, arraySource(readArray("fashion_mnist_test_2000_x.npy"), "test"));
  const Tensor y = readArray("fashion_mnist_test_2000_y.npy");
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < y.elementCount(); ++i) labels.push_back(static_cast<int64_t>(elementAsDouble(y, i)));
  f.data.setLabels(labels);
  f.data.setPreprocess(pre);
  return f;
}

// Top-1 accuracy (%) on the first kEvalSamples test samples, in batches of 100, counted here.
double accuracyPercent(const Model& m) {
  const Tensor x = readArray("fashion_mnist_test_2000_x.npy");
  const Tensor y = readArray("fashion_mnist_test_2000_y.npy");
  const std::string input = m.graph->inputs().at(0)->name();
  int64_t correct = 0;
  for (int64_t begin = 0; begin < kEvalSamples; begin += 100) {
    std::vector<float> pixels(100 * 28 * 28);
    for (size_t i = 0; i < pixels.size(); ++i)
      pixels[i] = static_cast<float>(elementAsDouble(x, begin * 784 + static_cast<int64_t>(i)) / 255.0);
    const auto logits = test::runModel(m, {{input, Tensor::fromValues(DType::kFloat, {100, 1, 28, 28}, pixels)}}).at(0);
    for (int64_t s = 0; s < 100; ++s) {
      const auto row = logits.begin() + s * 10;
      correct += std::max_element(row, row + 10) - row == static_cast<int64_t>(elementAsDouble(y, begin + s)) ? 1 : 0;
    }
  }
  return 100.0 * static_cast<double>(correct) / static_cast<double>(kEvalSamples);
}

// The model quantized with the given nodes in float, quantized independently of the search.
Model quantizedWithFloat(const Fixture& f, const QuantizeOptions& q, const std::vector<std::string>& float_nodes) {
  Model m = test::copyModel(f.model);
  ActivationRanges ranges = f.ranges;
  for (const std::string& n : float_nodes) ranges.float_nodes.push_back(n);
  auto r = quantizeQdq(m, ranges, q);
  EXPECT_TRUE(r.isOk()) << r.status().message();
  return m;
}

// Whether the node named `name` reads a dequantized weight (it is quantized) in `m`.
bool readsDequantizedWeight(const Model& m, const std::string& name) {
  for (const Node* n : m.graph->nodes()) {
    if (n->name != name) continue;
    const Value* w = n->inputs().size() > 1 ? n->input(1) : nullptr;
    return w != nullptr && w->producer() != nullptr && w->producer()->op_type == "DequantizeLinear";
  }
  ADD_FAILURE() << "no node " << name;
  return false;
}

TEST(QuantSensitivity, AccuracyDropBudgetPutsTheMostSensitiveLayersBackToFloat) {
  Fixture f = prepare("resnet_small", 100);
  QuantizeOptions q;
  q.per_channel = false;  // per-tensor weights lose more: the budget below has something to do
  const double float_acc = accuracyPercent(f.model);
  const double all_acc = accuracyPercent(quantizedWithFloat(f, q, {}));
  // Half of what quantizing everything loses: at least one layer must go back to float.
  ASSERT_GT(float_acc - all_acc, 0.1) << "per-tensor int8 loses too little on this model for the test";
  const double budget = (float_acc - all_acc) / 2;
  SensitivitySearchOptions options;
  options.quantize = q;
  options.budget.max_accuracy_drop = budget;
  options.max_samples = kEvalSamples;
  options.batch_size = 100;
  auto r = searchQuantization(f.model, f.ranges, f.data, options);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->metric, "top1_accuracy");
  EXPECT_EQ(r->samples, kEvalSamples);
  EXPECT_NEAR(r->float_score, float_acc, 1e-9);
  EXPECT_NEAR(r->all_quantized_score, all_acc, 1e-9);
  EXPECT_TRUE(r->budget_met);
  EXPECT_FALSE(r->timed_out);
  ASSERT_FALSE(r->kept_float.empty());
  // The written model scores what the search says, within the budget.
  const double written = accuracyPercent(r->model);
  EXPECT_NEAR(written, r->best_score, 1e-9);
  EXPECT_LE(float_acc - written, budget + 1e-9);
  // Every layer measured; a layer's sensitivity is the accuracy with it alone quantized.
  ASSERT_EQ(r->layers.size(), quantizableNodes(f.model).size());
  for (const LayerSensitivity& l : r->layers) EXPECT_TRUE(l.measured) << l.node;
  const auto most = std::max_element(r->layers.begin(), r->layers.end(),
                                     [](const LayerSensitivity& a, const LayerSensitivity& b) { return a.loss < b.loss; });
  std::vector<std::string> others;
  for (const LayerSensitivity& l : r->layers)
    if (l.node != most->node) others.push_back(globLiteral(l.node));
  EXPECT_NEAR(accuracyPercent(quantizedWithFloat(f, q, others)), most->score, 1e-9);
  EXPECT_NEAR(most->loss, float_acc - most->score, 1e-9);
  // Fallbacks most sensitive first, and float in the written model; the others quantized.
  EXPECT_EQ(r->kept_float.front(), most->node);
  double previous_loss = 1e9;
  for (const std::string& node : r->kept_float) {
    auto it = std::find_if(r->layers.begin(), r->layers.end(), [&](const LayerSensitivity& l) { return l.node == node; });
    ASSERT_NE(it, r->layers.end());
    EXPECT_LE(it->loss, previous_loss);
    previous_loss = it->loss;
  }
  int quantized_weight_layers = 0;
  for (const LayerSensitivity& l : r->layers) {
    if (l.op_type != "Conv" && l.op_type != "Gemm") continue;
    const bool kept = std::count(r->kept_float.begin(), r->kept_float.end(), l.node) > 0;
    EXPECT_EQ(readsDequantizedWeight(r->model, l.node), !kept) << l.node;
    quantized_weight_layers += kept ? 0 : 1;
  }
  EXPECT_GT(quantized_weight_layers, 0);
}

TEST(QuantSensitivity, AgreementBudgetCountsTop1MatchesWithTheFloatModel) {
  Fixture f = prepare("cnn_bn");
  SensitivitySearchOptions options;
  options.budget.min_agreement = 99.0;
  options.max_samples = 300;
  options.batch_size = 300;  // one batch, as the reference below runs it
  auto r = searchQuantization(f.model, f.ranges, f.data, options);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->metric, "top1_agreement");
  EXPECT_EQ(r->samples, 300);
  EXPECT_DOUBLE_EQ(r->float_score, 100.0);
  ASSERT_TRUE(r->budget_met);
  // Agreement of the written model, counted here over the same 300 samples.
  const Tensor x = readArray("fashion_mnist_test_2000_x.npy");
  std::vector<float> pixels(300 * 28 * 28);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(elementAsDouble(x, static_cast<int64_t>(i)) / 255.0);
  const Tensor first = Tensor::fromValues(DType::kFloat, {300, 1, 28, 28}, pixels);
  const std::string input = f.model.graph->inputs().at(0)->name();
  const auto ref = test::runModel(f.model, {{input, first}}).at(0);
  const auto got = test::runModel(r->model, {{input, first}}).at(0);
  int agree = 0;
  for (int s = 0; s < 300; ++s) {
    auto row = [&](const std::vector<float>& v) { return std::max_element(v.begin() + s * 10, v.begin() + s * 10 + 10) - v.begin(); };
    agree += row(ref) == row(got) ? 1 : 0;
  }
  EXPECT_NEAR(r->best_score, 100.0 * agree / 300.0, 1e-9);
  EXPECT_GE(r->best_score, 99.0);
}

TEST(QuantSensitivity, TimeBudgetKeepsTheBestModelSoFar) {
  Fixture f = prepare("cnn_bn");
  SensitivitySearchOptions options;
  options.budget.max_accuracy_drop = 0.0;
  options.time_budget_seconds = 1e-9;  // over before the first sensitivity trial
  options.max_samples = 200;
  auto r = searchQuantization(f.model, f.ranges, f.data, options);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  for (const LayerSensitivity& l : r->layers) EXPECT_FALSE(l.measured) << l.node;
  EXPECT_TRUE(r->kept_float.empty());
  ASSERT_EQ(r->trials.size(), 2u);  // float and all-quantized
  EXPECT_EQ(r->trials[1].kind, "all-quantized");
  EXPECT_NEAR(r->best_score, r->all_quantized_score, 1e-12);
  EXPECT_EQ(r->timed_out, !r->budget_met);
  EXPECT_EQ(r->budget_met, r->float_score - r->all_quantized_score <= 1e-9);
}

TEST(QuantSensitivity, RejectsInconsistentBudgets) {
  Fixture f = prepare("mlp");
  SensitivitySearchOptions options;
  EXPECT_FALSE(searchQuantization(f.model, f.ranges, f.data, options).isOk());  // no budget
  options.budget.max_accuracy_drop = 1;
  options.budget.min_agreement = 99;
  EXPECT_FALSE(searchQuantization(f.model, f.ranges, f.data, options).isOk());  // both
  Dataset unlabeled;
  unlabeled.addInput(f.model.graph->inputs().at(0)->name(), arraySource(readArray("fashion_mnist_test_2000_x.npy"), "x"));
  options.budget.min_agreement.reset();
  auto r = searchQuantization(f.model, f.ranges, unlabeled, options);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("labeled"), std::string::npos);
}

TEST(QuantSensitivity, GlobLiteralEscapesPatternCharacters) {
  EXPECT_EQ(globLiteral("/layer[0]/Conv*?"), "/layer\\[0]/Conv\\*\\?");
  EXPECT_EQ(globLiteral("a\\b"), "a\\\\b");
}

}  // namespace
}  // namespace nnc

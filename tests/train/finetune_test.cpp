// The fine-tuning loop on the bundled MLP with Fashion-MNIST calibration samples: the
// training loss goes down, pruned zeros stay zero, frozen parameters do not move, and the
// same seed gives bit-identical weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "nncompress/data/npy.h"
#include "nncompress/onnx/import.h"
#include "nncompress/train/loss.h"
#include "nncompress/train/tape.h"
#include "nncompress/train/trainer.h"
#include "test_util.h"

namespace nnc::train {
namespace {

constexpr int64_t kSamples = 96;

Dataset calibration() {
  const std::string dir = test::sourceDir() + "/models/data/";
  auto x = readNpy(dir + "fashion_mnist_calib_500_x.npy");
  auto y = readLabels(dir + "fashion_mnist_calib_500_y.npy");
  NNC_ENFORCE(x.isOk() && y.isOk(), "calibration data missing");
  Dataset dataset;
  dataset.addInput("input", arraySource(*x, "calib x"));
  dataset.setLabels(*y);
  Preprocess pre;
  pre.scale = 1.0 / 255;
  dataset.setPreprocess(pre);
  return dataset;
}

Model bundled(const std::string& name) {
  auto model = loadModel(test::sourceDir() + "/models/" + name + ".onnx");
  NNC_ENFORCE(model.isOk(), name + ".onnx missing");
  return std::move(*model);
}

Model mlp() { return bundled("mlp"); }

// Zeroes the smallest |w| fraction of every 2-D weight (unstructured magnitude pruning).
void magnitudePrune(Model& model, double fraction) {
  for (Value* v : model.graph->initializers()) {
    const Tensor& t = *v->initializer();
    if (t.dtype != DType::kFloat || t.shape.size() != 2) continue;
    std::vector<float> w(t.dataAs<float>(), t.dataAs<float>() + t.elementCount());
    std::vector<float> mags(w.size());
    std::transform(w.begin(), w.end(), mags.begin(), [](float x) { return std::fabs(x); });
    std::nth_element(mags.begin(), mags.begin() + static_cast<ptrdiff_t>(fraction * mags.size()), mags.end());
    const float threshold = mags[static_cast<size_t>(fraction * mags.size())];
    for (float& x : w)
      if (std::fabs(x) < threshold) x = 0;
    Tensor pruned = Tensor::fromValues(DType::kFloat, t.shape, w);
    pruned.name = t.name;
    model.graph->replaceInitializer(v, pruned);
  }
}

double meanLoss(const Model& model, const Dataset& dataset, int64_t samples = kSamples) {
  auto session = Session::create(model, {1, nullptr});
  NNC_ENFORCE(session.isOk(), "session");
  auto batch = dataset.batch(**session, 0, samples);
  NNC_ENFORCE(batch.isOk(), "batch");
  auto out = (*session)->run(*batch);
  NNC_ENFORCE(out.isOk(), "run");
  auto loss = softmaxCrossEntropy((*out)[0], *dataset.labels());
  NNC_ENFORCE(loss.isOk(), "loss");
  return loss->loss;
}

TrainOptions quickOptions() {
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 16;
  o.limit = kSamples;
  o.optimizer.kind = OptimizerKind::kAdam;
  o.schedule.base_lr = 1e-3;
  o.seed = 5;
  o.threads = 1;
  return o;
}

TEST(FinetuneTest, PrunedMlpLossGoesDownAndZerosStayZero) {
  Dataset data = calibration();
  Model model = mlp();
  magnitudePrune(model, 0.8);
  const Tensor fc1_before = *model.graph->initializers()[0]->initializer();
  const double before = meanLoss(model, data);
  TrainOptions options = quickOptions();
  options.optimizer.weight_decay = 0.01;  // decay must not revive pruned weights either
  auto summary = finetune(model, data, options);
  ASSERT_TRUE(summary.isOk()) << summary.status().message();
  const double after = meanLoss(model, data);
  EXPECT_LT(after, 0.8 * before) << "before " << before << " after " << after;
  EXPECT_LT(summary->epochs.back().loss, summary->epochs.front().loss);
  EXPECT_GT(summary->masked, summary->parameters / 2);

  // Every weight that was zero is still exactly zero; live weights moved.
  for (Value* v : model.graph->initializers()) {
    if (v->name() != model.graph->initializers()[0]->name()) continue;
    const Tensor& now = *v->initializer();
    int64_t moved = 0;
    for (int64_t i = 0; i < now.elementCount(); ++i) {
      if (fc1_before.dataAs<float>()[i] == 0.0f) ASSERT_EQ(now.dataAs<float>()[i], 0.0f) << i;
      else moved += now.dataAs<float>()[i] != fc1_before.dataAs<float>()[i];
    }
    EXPECT_GT(moved, 0);
  }
}

TEST(FinetuneTest, SameSeedSameWeightsAndFreezeKeepsParametersFixed) {
  Dataset data = calibration();
  Model a = mlp(), b = mlp(), c = mlp();
  TrainOptions options = quickOptions();
  options.epochs = 1;
  options.freeze = {"fc1"};
  ASSERT_TRUE(finetune(a, data, options).isOk());
  ASSERT_TRUE(finetune(b, data, options).isOk());
  options.seed = 6;
  ASSERT_TRUE(finetune(c, data, options).isOk());
  const Model original = mlp();
  bool any_differs_with_seed = false;
  for (size_t i = 0; i < a.graph->initializers().size(); ++i) {
    const Value* va = a.graph->initializers()[i];
    EXPECT_TRUE(sameContents(*va->initializer(), *b.graph->initializers()[i]->initializer())) << va->name();
    any_differs_with_seed |= !sameContents(*va->initializer(), *c.graph->initializers()[i]->initializer());
    const bool frozen = va->name().find("fc1") != std::string::npos;
    const bool same_as_original = sameContents(*va->initializer(), *original.graph->initializers()[i]->initializer());
    EXPECT_EQ(same_as_original, frozen) << va->name();
  }
  EXPECT_TRUE(any_differs_with_seed);
}

// The tape through a whole residual CNN (values used twice, Conv, BatchNormalization,
// MaxPool, GlobalAveragePool) against finite differences of the cross-entropy.
TEST(FinetuneTest, WholeModelGradientMatchesFiniteDifferences) {
  Dataset data = calibration();
  Model model = bundled("resnet_small");
  auto session = Session::create(model, {1, nullptr});
  ASSERT_TRUE(session.isOk());
  auto batch = data.batch(**session, 0, 4);
  ASSERT_TRUE(batch.isOk());
  auto params = trainableParameters(model, {});
  ASSERT_TRUE(params.isOk());
  std::vector<const Value*> values;
  for (const Parameter& p : *params) values.push_back(p.value);
  auto tape = Tape::record(**session, *batch);
  ASSERT_TRUE(tape.isOk());
  auto loss = softmaxCrossEntropy(tape->outputs()[0], *data.labels());
  ASSERT_TRUE(loss.isOk());
  auto grads = tape->backward({{model.graph->outputs()[0], loss->grad}}, values);
  ASSERT_TRUE(grads.isOk()) << grads.status().message();
  auto lossNow = [&]() {
    auto out = (*session)->run(*batch);
    return softmaxCrossEntropy((*out)[0], *data.labels())->loss;
  };
  int checked = 0;
  int reached = 0;
  for (size_t p = 0; p < values.size(); ++p) {
    if (!(*grads)[p] || reached++ % 5 != 0) continue;  // every fifth reached parameter
    Value* v = (*params)[p].value;
    const Tensor original = *v->initializer();
    // The element with the largest gradient: finite differences resolve it well in float32.
    const std::vector<float>& g = (*grads)[p]->data;
    const size_t i = static_cast<size_t>(std::max_element(g.begin(), g.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }) - g.begin());
    const double eps = 1e-2;
    std::vector<float> w(original.dataAs<float>(), original.dataAs<float>() + original.elementCount());
    w[i] = static_cast<float>(original.dataAs<float>()[i] + eps);
    model.graph->replaceInitializer(v, Tensor::fromValues(DType::kFloat, original.shape, w));
    const double plus = lossNow();
    w[i] = static_cast<float>(original.dataAs<float>()[i] - eps);
    model.graph->replaceInitializer(v, Tensor::fromValues(DType::kFloat, original.shape, w));
    const double minus = lossNow();
    model.graph->replaceInitializer(v, original);
    const double numeric = (plus - minus) / (2 * eps);
    EXPECT_NEAR(g[i], numeric, 2e-3 + 0.05 * std::fabs(numeric)) << v->name() << " element " << i;
    ++checked;
  }
  EXPECT_EQ(reached, 34);  // conv weights, BatchNorm scales and biases, fc, the input normalization
  EXPECT_EQ(checked, 7);
}

// Conv, BatchNormalization, MaxPool, residual Add and GlobalAveragePool on the tape.
TEST(FinetuneTest, ResidualCnnLossGoesDown) {
  Dataset data = calibration();
  Model model = bundled("resnet_small");
  const double before = meanLoss(model, data, 32);
  TrainOptions options = quickOptions();
  options.limit = 32;
  options.epochs = 3;
  options.optimizer.kind = OptimizerKind::kSgd;
  options.schedule.base_lr = 0.01;
  options.clip_grad_norm = 1.0;  // frozen BatchNorm statistics make big steps unstable
  auto summary = finetune(model, data, options);
  ASSERT_TRUE(summary.isOk()) << summary.status().message();
  const double after = meanLoss(model, data, 32);
  EXPECT_LT(after, 0.8 * before) << "before " << before << " after " << after;
  // The BatchNorm running statistics are not trained (they get no gradient).
  const Model original = bundled("resnet_small");
  int statistics = 0, scales_changed = 0;
  for (size_t i = 0; i < model.graph->initializers().size(); ++i) {
    const Value* v = model.graph->initializers()[i];
    const bool same = sameContents(*v->initializer(), *original.graph->initializers()[i]->initializer());
    for (const Value::Use& use : v->uses()) {
      if (use.node->op_type != "BatchNormalization") continue;
      if (use.input_index >= 3) {
        EXPECT_TRUE(same) << v->name();
        ++statistics;
      } else if (use.input_index == 1) {
        scales_changed += !same;
      }
    }
  }
  EXPECT_EQ(statistics, 20);  // mean and var of the 10 BatchNormalization nodes
  EXPECT_EQ(scales_changed, 10);
}

TEST(FinetuneTest, BadFreezePatternAndMissingLabelsAreUserErrors) {
  Dataset data = calibration();
  Model model = mlp();
  TrainOptions options = quickOptions();
  options.freeze = {"("};
  auto r = finetune(model, data, options);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("--freeze"), std::string::npos);
}

}  // namespace
}  // namespace nnc::train

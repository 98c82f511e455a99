// Losses against hand-computed values and finite differences; optimizer updates, schedules,
// clipping and the seeded shuffle against hand-computed steps.
#include <gtest/gtest.h>

#include <cmath>

#include "nncompress/train/loss.h"
#include "nncompress/train/optimizer.h"
#include "nncompress/train/trainer.h"

namespace nnc::train {
namespace {

Tensor logits(std::vector<int64_t> shape, std::vector<float> values) {
  return Tensor::fromValues(DType::kFloat, std::move(shape), values);
}

TEST(LossTest, CrossEntropyMatchesHandComputedValues) {
  // Row 0: logits 1,2,3 label 2: -log(e^3 / (e + e^2 + e^3)) = log(1 + e^-1 + e^-2).
  // Row 1: logits 0,0,0 label 0: log 3.
  auto r = softmaxCrossEntropy(logits({2, 3}, {1, 2, 3, 0, 0, 0}), {2, 0});
  ASSERT_TRUE(r.isOk());
  const double row0 = std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  EXPECT_NEAR(r->loss, (row0 + std::log(3.0)) / 2, 1e-9);
  EXPECT_EQ(r->correct, 2);  // argmax 2 and (first on ties) 0
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(r->grad.data[0], std::exp(1.0) / z / 2, 1e-7);
  EXPECT_NEAR(r->grad.data[2], (std::exp(3.0) / z - 1) / 2, 1e-7);
  EXPECT_NEAR(r->grad.data[3], (1.0 / 3 - 1) / 2, 1e-7);
  EXPECT_NEAR(r->grad.data[4], 1.0 / 3 / 2, 1e-7);
}

TEST(LossTest, CrossEntropyRejectsOutOfRangeLabels) {
  auto r = softmaxCrossEntropy(logits({1, 3}, {1, 2, 3}), {3});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("label 3"), std::string::npos);
}

TEST(LossTest, DistillationKlIsZeroForEqualLogitsAndMatchesFiniteDifferences) {
  const std::vector<float> teacher = {0.5f, -1.0f, 2.0f, 0.1f, 0.3f, -0.7f};
  std::vector<float> student = {0.2f, 0.4f, 1.0f, -0.5f, 0.9f, 0.0f};
  auto same = distillationKl(logits({2, 3}, teacher), logits({2, 3}, teacher), 4.0);
  ASSERT_TRUE(same.isOk());
  EXPECT_NEAR(same->loss, 0, 1e-12);
  const double t = 4.0;
  auto r = distillationKl(logits({2, 3}, student), logits({2, 3}, teacher), t);
  ASSERT_TRUE(r.isOk());
  // Independent reference: T^2 / N * sum p_t (log p_t - log p_s) with softmax(x / T).
  auto logSoftmax = [&](const std::vector<float>& x, size_t row) {
    std::vector<double> out(3);
    double sum = 0;
    for (size_t j = 0; j < 3; ++j) sum += std::exp(x[row * 3 + j] / t);
    for (size_t j = 0; j < 3; ++j) out[j] = x[row * 3 + j] / t - std::log(sum);
    return out;
  };
  auto reference = [&](const std::vector<float>& s) {
    double loss = 0;
    for (size_t row = 0; row < 2; ++row) {
      auto ls = logSoftmax(s, row), lt = logSoftmax(teacher, row);
      for (size_t j = 0; j < 3; ++j) loss += std::exp(lt[j]) * (lt[j] - ls[j]);
    }
    return t * t * loss / 2;
  };
  EXPECT_NEAR(r->loss, reference(student), 1e-9);
  for (size_t i = 0; i < student.size(); ++i) {
    std::vector<float> plus = student, minus = student;
    plus[i] += 1e-3f;
    minus[i] -= 1e-3f;
    const double numeric = (reference(plus) - reference(minus)) / (static_cast<double>(plus[i]) - minus[i]);
    EXPECT_NEAR(r->grad.data[i], numeric, 1e-4) << i;
  }
}

TEST(OptimizerTest, SgdWithMomentumAndWeightDecay) {
  Optimizer sgd({OptimizerKind::kSgd, 0.9, 0.1}, {1});
  float w = 1.0f;
  const float g = 0.5f;
  sgd.beginStep();
  sgd.update(0, &w, &g, 0.1);  // v = 0.5 + 0.1 * 1 = 0.6; w = 1 - 0.06 = 0.94
  EXPECT_NEAR(w, 0.94f, 1e-6);
  sgd.beginStep();
  sgd.update(0, &w, &g, 0.1);  // v = 0.9 * 0.6 + 0.5 + 0.094 = 1.134; w = 0.94 - 0.1134
  EXPECT_NEAR(w, 0.8266f, 1e-6);
}

TEST(OptimizerTest, AdamFirstStepMovesByLrTimesSignAndAdamWDecaysDecoupled) {
  OptimizerOptions adam_options;
  adam_options.kind = OptimizerKind::kAdam;
  Optimizer adam(adam_options, {2});
  float w[2] = {1.0f, -2.0f};
  const float g[2] = {0.3f, -4.0f};
  adam.beginStep();
  adam.update(0, w, g, 0.01);  // bias-corrected m / sqrt(v) = sign(g) on the first step
  EXPECT_NEAR(w[0], 0.99f, 1e-6);
  EXPECT_NEAR(w[1], -1.99f, 1e-6);

  OptimizerOptions adamw_options = adam_options;
  adamw_options.kind = OptimizerKind::kAdamW;
  adamw_options.weight_decay = 0.5;
  Optimizer adamw(adamw_options, {1});
  float v = 2.0f;
  const float zero = 0.0f;
  adamw.beginStep();
  adamw.update(0, &v, &zero, 0.1);  // no gradient: only the decay, w -= lr * wd * w
  EXPECT_NEAR(v, 1.9f, 1e-6);
}

TEST(ScheduleTest, WarmupStepAndCosine) {
  LrSchedule s{ScheduleKind::kCosine, 1.0, 12, 2, 1, 0.1};
  EXPECT_NEAR(s.at(0), 0.5, 1e-12);   // warm-up 1/2
  EXPECT_NEAR(s.at(1), 1.0, 1e-12);
  EXPECT_NEAR(s.at(2), 1.0, 1e-12);   // cosine starts at the base rate
  EXPECT_NEAR(s.at(7), 0.5, 1e-12);   // halfway through the 10 cosine steps
  EXPECT_NEAR(s.at(12), 0.0, 1e-12);
  LrSchedule step{ScheduleKind::kStep, 1.0, 100, 0, 3, 0.1};
  EXPECT_NEAR(step.at(2), 1.0, 1e-12);
  EXPECT_NEAR(step.at(3), 0.1, 1e-12);
  EXPECT_NEAR(step.at(7), 0.01, 1e-12);
}

TEST(ClipTest, ScalesToTheGlobalNorm) {
  std::vector<float> a = {3}, b = {4};
  std::vector<std::vector<float>*> grads = {&a, &b};
  EXPECT_NEAR(clipGradNorm(grads, 1.0), 5.0, 1e-9);
  EXPECT_NEAR(a[0], 0.6f, 1e-5);
  EXPECT_NEAR(b[0], 0.8f, 1e-5);
  EXPECT_NEAR(clipGradNorm(grads, 10.0), 1.0, 1e-5);  // below the limit: unchanged
  EXPECT_NEAR(a[0], 0.6f, 1e-5);
}

TEST(ShuffleTest, SeededPermutation) {
  auto a = shuffledIndices(100, 1), b = shuffledIndices(100, 1), c = shuffledIndices(100, 2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_NE(a, sorted);
}

}  // namespace
}  // namespace nnc::train

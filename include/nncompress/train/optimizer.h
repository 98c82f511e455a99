// Optimizers (SGD with momentum, Adam, AdamW), learning-rate schedules (step, cosine, linear
// warm-up) and gradient clipping by global norm. Weights and state are float32; the step
// arithmetic is in a fixed order, so a seeded run is reproducible bit for bit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nncompress/support/status.h"

namespace nnc::train {

enum class OptimizerKind { kSgd, kAdam, kAdamW };
Expected<OptimizerKind> parseOptimizerKind(const std::string& name);

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kSgd;
  double momentum = 0.9;      // SGD
  double weight_decay = 0;    // SGD/Adam: L2 added to the gradient; AdamW: decoupled
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam/AdamW
};

class Optimizer {
 public:
  Optimizer(OptimizerOptions options, std::vector<int64_t> param_sizes);
  // Starts a step (Adam's bias correction counts steps).
  void beginStep() { ++step_; }
  // Updates parameter `index` in place from its gradient with learning rate `lr`.
  void update(size_t index, float* weights, const float* grad, double lr);

 private:
  OptimizerOptions options_;
  std::vector<std::vector<float>> first_, second_;  // momentum / Adam moments per parameter
  int64_t step_ = 0;
};

enum class ScheduleKind { kNone, kStep, kCosine };
Expected<ScheduleKind> parseScheduleKind(const std::string& name);

struct LrSchedule {
  ScheduleKind kind = ScheduleKind::kNone;
  double base_lr = 0.01;
  int64_t total_steps = 1;   // cosine decays to 0 over these (after warm-up)
  int64_t warmup_steps = 0;  // linear ramp from base_lr / warmup_steps to base_lr
  int64_t step_size = 1;     // step: multiply by gamma every step_size steps
  double gamma = 0.1;
  // Learning rate of step `step` (0-based).
  double at(int64_t step) const;
};

// Scales the gradients so that their global L2 norm is at most max_norm (when max_norm > 0).
// Returns the norm before clipping.
double clipGradNorm(std::vector<std::vector<float>*>& grads, double max_norm);

}  // namespace nnc::train

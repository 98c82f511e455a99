// SGD with momentum, Adam, AdamW (the PyTorch update rules), learning-rate schedules and
// gradient clipping by global norm.
#include "nncompress/train/optimizer.h"

#include <cmath>

namespace nnc::train {

Expected<OptimizerKind> parseOptimizerKind(const std::string& name) {
  if (name == "sgd") return OptimizerKind::kSgd;
  if (name == "adam") return OptimizerKind::kAdam;
  if (name == "adamw") return OptimizerKind::kAdamW;
  return invalidArgument("--optimizer: unknown optimizer '" + name + "' (sgd, adam, adamw)");
}

Expected<ScheduleKind> parseScheduleKind(const std::string& name) {
  if (name == "none") return ScheduleKind::kNone;
  if (name == "step") return ScheduleKind::kStep;
  if (name == "cosine") return ScheduleKind::kCosine;
  return invalidArgument("--schedule: unknown schedule '" + name + "' (none, step, cosine)");
}

Optimizer::Optimizer(OptimizerOptions options, std::vector<int64_t> param_sizes) : options_(options) {
  for (int64_t n : param_sizes) {
    first_.emplace_back(static_cast<size_t>(n), 0.0f);
    if (options_.kind != OptimizerKind::kSgd) second_.emplace_back(static_cast<size_t>(n), 0.0f);
  }
}

void Optimizer::update(size_t index, float* w, const float* g, double lr) {
  std::vector<float>& m = first_.at(index);
  const size_t n = m.size();
  const float wd = static_cast<float>(options_.weight_decay);
  const float flr = static_cast<float>(lr);
  if (options_.kind == OptimizerKind::kSgd) {
    // v = mu v + (g + wd w); w -= lr v
    const float mu = static_cast<float>(options_.momentum);
    for (size_t i = 0; i < n; ++i) {
      const float gi = g[i] + wd * w[i];
      m[i] = mu * m[i] + gi;
      w[i] -= flr * m[i];
    }
    return;
  }
  std::vector<float>& v = second_.at(index);
  const float b1 = static_cast<float>(options_.beta1), b2 = static_cast<float>(options_.beta2);
  const float eps = static_cast<float>(options_.eps);
  const double t = static_cast<double>(step_ > 0 ? step_ : 1);
  const float c1 = static_cast<float>(1 - std::pow(options_.beta1, t));
  const float c2 = static_cast<float>(std::sqrt(1 - std::pow(options_.beta2, t)));
  const bool decoupled = options_.kind == OptimizerKind::kAdamW;
  for (size_t i = 0; i < n; ++i) {
    if (decoupled) w[i] -= flr * wd * w[i];
    const float gi = decoupled ? g[i] : g[i] + wd * w[i];
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    w[i] -= flr * (m[i] / c1) / (std::sqrt(v[i]) / c2 + eps);
  }
}

double LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps)
    return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const int64_t after = step - warmup_steps;
  switch (kind) {
    case ScheduleKind::kNone:
      return base_lr;
    case ScheduleKind::kStep:
      return base_lr * std::pow(gamma, static_cast<double>(after / std::max<int64_t>(step_size, 1)));
    case ScheduleKind::kCosine: {
      const double span = static_cast<double>(std::max<int64_t>(total_steps - warmup_steps, 1));
      const double progress = std::min(static_cast<double>(after) / span, 1.0);
      return base_lr * 0.5 * (1 + std::cos(M_PI * progress));
    }
  }
  return base_lr;
}

double clipGradNorm(std::vector<std::vector<float>*>& grads, double max_norm) {
  double sum = 0;
  for (const auto* g : grads)
    for (float v : *g) sum += static_cast<double>(v) * v;
  const double norm = std::sqrt(sum);
  if (max_norm > 0 && norm > max_norm) {
    const float scale = static_cast<float>(max_norm / (norm + 1e-6));
    for (auto* g : grads)
      for (float& v : *g) v *= scale;
  }
  return norm;
}

}  // namespace nnc::train

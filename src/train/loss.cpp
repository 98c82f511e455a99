// Softmax cross-entropy and temperature-scaled KL divergence over [N, C] logits.
#include "nncompress/train/loss.h"

#include <cmath>

namespace nnc::train {

namespace {

Status checkLogits(const Tensor& logits, const char* what) {
  if (logits.dtype != DType::kFloat || logits.shape.size() != 2)
    return invalidArgument(std::string(what) + " must be float32 [N, classes]");
  return Status::ok();
}

// log softmax(x / t) of one row, in double.
std::vector<double> logSoftmaxRow(const float* x, int64_t c, double t) {
  double mx = -INFINITY;
  for (int64_t j = 0; j < c; ++j) mx = std::max(mx, x[j] / t);
  double sum = 0;
  for (int64_t j = 0; j < c; ++j) sum += std::exp(x[j] / t - mx);
  const double lse = mx + std::log(sum);
  std::vector<double> out(static_cast<size_t>(c));
  for (int64_t j = 0; j < c; ++j) out[static_cast<size_t>(j)] = x[j] / t - lse;
  return out;
}

}  // namespace

Expected<LossResult> softmaxCrossEntropy(const Tensor& logits, const std::vector<int64_t>& labels,
                                         int64_t label_offset) {
  Status s = checkLogits(logits, "logits");
  if (!s.isOk()) return s;
  const int64_t n = logits.shape[0], c = logits.shape[1];
  if (label_offset + n > static_cast<int64_t>(labels.size())) return invalidArgument("fewer labels than samples");
  LossResult r;
  r.grad = Grad::zeros(logits.shape);
  const float* x = logits.dataAs<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = labels[static_cast<size_t>(label_offset + i)];
    if (label < 0 || label >= c)
      return invalidArgument("label " + std::to_string(label) + " of sample " + std::to_string(label_offset + i) +
                             " is outside [0, " + std::to_string(c) + ")");
    const std::vector<double> logp = logSoftmaxRow(x + i * c, c, 1.0);
    r.loss -= logp[static_cast<size_t>(label)];
    int64_t best = 0;
    for (int64_t j = 0; j < c; ++j) {
      if (x[i * c + j] > x[i * c + best]) best = j;
      const double p = std::exp(logp[static_cast<size_t>(j)]);
      r.grad.data[static_cast<size_t>(i * c + j)] = static_cast<float>((p - (j == label ? 1.0 : 0.0)) / n);
    }
    r.correct += best == label;
  }
  r.loss /= static_cast<double>(n);
  return r;
}

Expected<LossResult> distillationKl(const Tensor& student_logits, const Tensor& teacher_logits, double temperature) {
  Status s = checkLogits(student_logits, "student logits");
  if (!s.isOk()) return s;
  s = checkLogits(teacher_logits, "teacher logits");
  if (!s.isOk()) return s;
  if (student_logits.shape != teacher_logits.shape) return invalidArgument("student and teacher logits differ in shape");
  if (!(temperature > 0)) return invalidArgument("temperature must be positive");
  const int64_t n = student_logits.shape[0], c = student_logits.shape[1];
  LossResult r;
  r.grad = Grad::zeros(student_logits.shape);
  const double t = temperature;
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<double> ls = logSoftmaxRow(student_logits.dataAs<float>() + i * c, c, t);
    const std::vector<double> lt = logSoftmaxRow(teacher_logits.dataAs<float>() + i * c, c, t);
    for (size_t j = 0; j < static_cast<size_t>(c); ++j) {
      const double pt = std::exp(lt[j]), ps = std::exp(ls[j]);
      r.loss += t * t * pt * (lt[j] - ls[j]);
      // d/dz_s of T^2 KL = T^2 (p_s - p_t) / T.
      r.grad.data[static_cast<size_t>(i * c) + j] = static_cast<float>(t * (ps - pt) / n);
    }
  }
  r.loss /= static_cast<double>(n);
  return r;
}

}  // namespace nnc::train

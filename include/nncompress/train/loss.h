// Losses over [N, C] logits: their mean value over the batch and the gradient with respect
// to the logits, computed in double precision.
#pragma once

#include <cstdint>
#include <vector>

#include "nncompress/train/backward.h"

namespace nnc::train {

struct LossResult {
  double loss = 0;      // mean over the batch
  int64_t correct = 0;  // rows whose argmax equals the label (0 for label-free losses)
  Grad grad;            // d loss / d logits
};

// Softmax cross-entropy with integer class labels (labels[label_offset + row]).
Expected<LossResult> softmaxCrossEntropy(const Tensor& logits, const std::vector<int64_t>& labels,
                                         int64_t label_offset = 0);

// KL(teacher || student) between the temperature-softened distributions, scaled by T^2 so
// that its gradient keeps the magnitude of the hard-label loss (Hinton et al.).
Expected<LossResult> distillationKl(const Tensor& student_logits, const Tensor& teacher_logits, double temperature);

}  // namespace nnc::train

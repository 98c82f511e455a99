// Numeric comparison of tensors (a tested output against a reference) and classification
// accuracy, accumulated over batches in double precision.
#pragma once

#include <cstdint>
#include <vector>

#include "nncompress/ir/tensor.h"

namespace nnc {

// Element i of a numeric tensor as double (float16/bfloat16 decoded); NaN for other types.
double elementAsDouble(const Tensor& tensor, int64_t i);

// Differences between a tested tensor and its reference, accumulated over calls to add().
struct DiffStats {
  int64_t elements = 0;
  double max_abs = 0;       // max |test - ref|
  double max_rel = 0;       // max |test - ref| / max(|ref|, 1e-6)
  double sum_abs = 0;
  double sum_sq_ref = 0, sum_sq_test = 0, sum_sq_diff = 0, dot = 0;
  int64_t nan_mismatch = 0;  // NaN in one and not the other

  // Adds a pair; fails when shapes differ.
  Status add(const Tensor& test, const Tensor& reference);
  double meanAbs() const { return elements ? sum_abs / static_cast<double>(elements) : 0; }
  double cosine() const;  // 1 when both are all zero
  double sqnrDb() const;  // 10 log10(|ref|^2 / |test-ref|^2); +inf when identical
};

// Top-1/top-5 counts from logits [N, C] (any float type) and labels.
struct AccuracyCounter {
  int64_t samples = 0, top1 = 0, top5 = 0;
  Status add(const Tensor& logits, const std::vector<int64_t>& labels, int64_t label_offset);
  double top1Accuracy() const { return samples ? static_cast<double>(top1) / static_cast<double>(samples) : 0; }
  double top5Accuracy() const { return samples ? static_cast<double>(top5) / static_cast<double>(samples) : 0; }
};

// Index of the largest value of each row of [N, C] logits (first index on ties).
std::vector<int64_t> argmaxRows(const Tensor& logits);

}  // namespace nnc

// Tensor comparison and accuracy (see metrics.h).
#include "nncompress/analysis/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nncompress/ir/half.h"

namespace nnc {

double elementAsDouble(const Tensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::kFloat: return t.dataAs<float>()[i];
    case DType::kDouble: return t.dataAs<double>()[i];
    case DType::kFloat16: return halfToFloat(t.dataAs<uint16_t>()[i]);
    case DType::kBFloat16: return bfloat16ToFloat(t.dataAs<uint16_t>()[i]);
    case DType::kInt8: return t.dataAs<int8_t>()[i];
    case DType::kUInt8: case DType::kBool: return t.dataAs<uint8_t>()[i];
    case DType::kInt16: return t.dataAs<int16_t>()[i];
    case DType::kUInt16: return t.dataAs<uint16_t>()[i];
    case DType::kInt32: return t.dataAs<int32_t>()[i];
    case DType::kUInt32: return t.dataAs<uint32_t>()[i];
    case DType::kInt64: return static_cast<double>(t.dataAs<int64_t>()[i]);
    case DType::kUInt64: return static_cast<double>(t.dataAs<uint64_t>()[i]);
    default: return std::numeric_limits<double>::quiet_NaN();
  }
}

Status DiffStats::add(const Tensor& test, const Tensor& ref) {
  if (test.shape != ref.shape) return invalidArgument("shapes differ");
  const int64_t n = ref.elementCount();
  for (int64_t i = 0; i < n; ++i) {
    const double a = elementAsDouble(test, i), b = elementAsDouble(ref, i);
    if (std::isnan(a) || std::isnan(b)) {
      nan_mismatch += std::isnan(a) != std::isnan(b);
      continue;
    }
    const double d = std::fabs(a - b);
    max_abs = std::max(max_abs, d);
    max_rel = std::max(max_rel, d / std::max(std::fabs(b), 1e-6));
    sum_abs += d;
    sum_sq_ref += b * b;
    sum_sq_test += a * a;
    sum_sq_diff += (a - b) * (a - b);
    dot += a * b;
  }
  elements += n;
  return Status::ok();
}

double DiffStats::cosine() const {
  if (sum_sq_ref == 0 && sum_sq_test == 0) return 1.0;
  if (sum_sq_ref == 0 || sum_sq_test == 0) return 0.0;
  return dot / std::sqrt(sum_sq_ref * sum_sq_test);
}

double DiffStats::sqnrDb() const {
  if (sum_sq_diff == 0) return std::numeric_limits<double>::infinity();
  if (sum_sq_ref == 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(sum_sq_ref / sum_sq_diff);
}

std::vector<int64_t> argmaxRows(const Tensor& logits) {
  const int64_t rows = logits.shape.empty() ? 0 : logits.shape[0];
  const int64_t cols = rows ? logits.elementCount() / rows : 0;
  std::vector<int64_t> result(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = 0;
    double best_value = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < cols; ++c) {
      double v = elementAsDouble(logits, r * cols + c);
      if (v > best_value) {
        best_value = v;
        best = c;
      }
    }
    result[static_cast<size_t>(r)] = best;
  }
  return result;
}

Status AccuracyCounter::add(const Tensor& logits, const std::vector<int64_t>& labels, int64_t label_offset) {
  if (logits.shape.size() < 2) return invalidArgument("classifier output must be [N, classes], got rank " + std::to_string(logits.shape.size()));
  const int64_t rows = logits.shape[0];
  const int64_t cols = logits.elementCount() / std::max<int64_t>(rows, 1);
  if (label_offset + rows > static_cast<int64_t>(labels.size())) return invalidArgument("fewer labels than samples");
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t label = labels[static_cast<size_t>(label_offset + r)];
    if (label < 0 || label >= cols)
      return invalidArgument("label " + std::to_string(label) + " of sample " + std::to_string(label_offset + r) +
                             " is outside the model's " + std::to_string(cols) + " classes");
    const double target = elementAsDouble(logits, r * cols + label);
    // Rank of the label: classes scoring higher, plus equal ones before it (first index wins ties).
    int64_t better = 0;
    for (int64_t c = 0; c < cols; ++c) {
      double v = elementAsDouble(logits, r * cols + c);
      better += v > target || (v == target && c < label);
    }
    top1 += better == 0;
    top5 += better < 5;
    ++samples;
  }
  return Status::ok();
}

}  // namespace nnc

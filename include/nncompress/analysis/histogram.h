// Streaming statistics of one activation value, for calibration: exact min/max of the finite
// values and a two-sided magnitude histogram. Positive values (and zeros) and the magnitudes of
// negative values each go to their own histogram over [0, limit]; when a larger magnitude
// arrives the limit doubles and bins merge pairwise, which is exact. Memory is constant however
// many samples are added, and the result depends only on the data and the order it came in.
// Range methods (minmax, percentile, entropy, mse) turn the statistics into a clipping range.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nncompress/support/status.h"

namespace nnc {

// One side of the histogram: counts[i] holds magnitudes in [i*w, (i+1)*w), w = limit/bins
// (the last bin also holds magnitudes equal to the limit).
struct HistogramSide {
  double limit = 0;  // 0 until a nonzero magnitude arrives
  std::vector<uint64_t> counts;
  uint64_t total() const;
  double binWidth() const { return counts.empty() ? 0 : limit / static_cast<double>(counts.size()); }
};

class ValueHistogram {
 public:
  // `bins` per side: a multiple of 2, at least 8. Without `binned`, only min/max and counts
  // are kept (all that the minmax method needs, at a fraction of the cost).
  explicit ValueHistogram(int bins = 2048, bool binned = true);
  // Adds values; NaN and +-Inf are counted in nonFinite() only.
  void add(const float* data, int64_t count);

  bool empty() const { return finite_ == 0; }
  bool binned() const { return binned_; }
  float min() const { return min_; }  // of finite values; 0 when empty
  float max() const { return max_; }
  uint64_t finiteCount() const { return finite_; }
  uint64_t nonFinite() const { return non_finite_; }
  uint64_t exactZeros() const { return zeros_; }  // counted in positive().counts[0] too
  const HistogramSide& positive() const { return positive_; }  // x >= 0
  const HistogramSide& negative() const { return negative_; }  // -x for x < 0

 private:
  void addToSide(HistogramSide& side, const std::vector<float>& magnitudes, float batch_max);
  HistogramSide positive_, negative_;
  bool binned_ = true;
  float min_ = 0, max_ = 0;
  uint64_t finite_ = 0, non_finite_ = 0, zeros_ = 0;
};

// How calibration turns statistics into a range.
enum class RangeMethod { kMinMax, kPercentile, kEntropy, kMse };

// "minmax", "percentile", "entropy", "mse".
std::string rangeMethodName(RangeMethod method);
Expected<RangeMethod> parseRangeMethod(const std::string& text);

struct Range {
  float min = 0, max = 0;
};

// The observed min/max.
Range rangeMinMax(const ValueHistogram& h);
// Clips the tails: at most (100 - percentile)% of all values lie above max, and as many below
// min, to the resolution of one bin. percentile in (0, 100].
Range rangePercentile(const ValueHistogram& h, double percentile);
// Per side, the threshold that minimizes the KL divergence between the clipped distribution
// and its quantized version (TensorRT's method): 128 levels per side when both sides hold
// values, 255 when only one does (uint8 over [0, t]). Exact zeros are left out: quantization
// represents 0 exactly, and the spike of ReLU/ReLU6 zeros smeared over the first level would
// otherwise push the threshold far down (MobileNet's ReLU6 outputs clipped to 1.5 instead of 6).
Range rangeEntropy(const ValueHistogram& h);
// Per side, the threshold that minimizes the expected squared error: clipping error of values
// beyond it plus step^2/12 rounding error for values inside (same level counts as entropy;
// exact zeros, which have no error, left out).
Range rangeMse(const ValueHistogram& h);
// Dispatches on `method` (percentile used only by kPercentile).
Range computeRange(const ValueHistogram& h, RangeMethod method, double percentile);

// Exposed for tests: the index k (1..counts.size()) of the bin edge k*w that a one-sided
// method picks, given the number of quantization levels.
int64_t entropyThresholdBin(const std::vector<uint64_t>& counts, int levels);
int64_t mseThresholdBin(const std::vector<uint64_t>& counts, double levels);

}  // namespace nnc

// Streaming min/max + two-sided magnitude histogram, and the range methods built on it
// (see include/nncompress/analysis/histogram.h).
#include "nncompress/analysis/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nnc {

uint64_t HistogramSide::total() const {
  uint64_t sum = 0;
  for (uint64_t c : counts) sum += c;
  return sum;
}

ValueHistogram::ValueHistogram(int bins, bool binned) : binned_(binned) {
  NNC_ENFORCE(bins >= 8 && bins % 2 == 0, "histogram bins must be even and >= 8");
  positive_.counts.assign(static_cast<size_t>(bins), 0);
  negative_.counts.assign(static_cast<size_t>(bins), 0);
}

namespace {

// Doubles the side's limit until it covers `magnitude`; bin pairs merge, so counts stay exact.
void growTo(HistogramSide& side, double magnitude) {
  if (magnitude <= 0) return;
  if (side.limit == 0) {
    side.limit = magnitude;  // bin 0 may already hold zeros: 0 is in [0, w) for any w
    return;
  }
  const size_t bins = side.counts.size();
  while (magnitude > side.limit) {
    for (size_t j = 0; j < bins / 2; ++j) side.counts[j] = side.counts[2 * j] + side.counts[2 * j + 1];
    std::fill(side.counts.begin() + static_cast<ptrdiff_t>(bins / 2), side.counts.end(), 0);
    side.limit *= 2;
  }
}

inline void addMagnitude(HistogramSide& side, double magnitude, double bins_per_unit) {
  const int64_t last = static_cast<int64_t>(side.counts.size()) - 1;
  const int64_t bin = side.limit == 0 ? 0 : std::min(last, static_cast<int64_t>(magnitude * bins_per_unit));
  ++side.counts[static_cast<size_t>(bin)];
}

}  // namespace

void ValueHistogram::add(const float* data, int64_t count) {
  // Pass 1: extent of this batch, so each side grows once before binning.
  float batch_min = std::numeric_limits<float>::infinity(), batch_max = -batch_min;
  uint64_t finite = 0;
  for (int64_t i = 0; i < count; ++i) {
    const float v = data[i];
    if (!std::isfinite(v)) continue;
    batch_min = std::min(batch_min, v);
    batch_max = std::max(batch_max, v);
    ++finite;
  }
  non_finite_ += static_cast<uint64_t>(count) - finite;
  if (finite == 0) return;
  min_ = finite_ == 0 ? batch_min : std::min(min_, batch_min);
  max_ = finite_ == 0 ? batch_max : std::max(max_, batch_max);
  finite_ += finite;
  if (!binned_) return;
  growTo(positive_, batch_max);
  growTo(negative_, -static_cast<double>(batch_min));
  // Pass 2: binning.
  const double bins = static_cast<double>(positive_.counts.size());
  const double pos_scale = positive_.limit > 0 ? bins / positive_.limit : 0;
  const double neg_scale = negative_.limit > 0 ? bins / negative_.limit : 0;
  for (int64_t i = 0; i < count; ++i) {
    const float v = data[i];
    if (!std::isfinite(v)) continue;
    zeros_ += v == 0 ? 1 : 0;
    if (v >= 0) addMagnitude(positive_, v, pos_scale);
    else addMagnitude(negative_, -static_cast<double>(v), neg_scale);
  }
}

std::string rangeMethodName(RangeMethod method) {
  switch (method) {
    case RangeMethod::kMinMax: return "minmax";
    case RangeMethod::kPercentile: return "percentile";
    case RangeMethod::kEntropy: return "entropy";
    case RangeMethod::kMse: return "mse";
  }
  return "?";
}

Expected<RangeMethod> parseRangeMethod(const std::string& text) {
  for (RangeMethod m : {RangeMethod::kMinMax, RangeMethod::kPercentile, RangeMethod::kEntropy, RangeMethod::kMse})
    if (text == rangeMethodName(m)) return m;
  return invalidArgument("unknown calibration method '" + text + "' (methods: minmax, percentile, entropy, mse)");
}

Range rangeMinMax(const ValueHistogram& h) { return {h.min(), h.max()}; }

namespace {

// Number of bins up to and including the last nonzero one.
int64_t usedBins(const std::vector<uint64_t>& counts) {
  int64_t n = static_cast<int64_t>(counts.size());
  while (n > 0 && counts[static_cast<size_t>(n - 1)] == 0) --n;
  return n;
}

// Smallest edge k*w with at most `tail` values above it.
double tailThreshold(const HistogramSide& side, double tail) {
  size_t k = side.counts.size();
  double above = 0;
  while (k > 0 && above + static_cast<double>(side.counts[k - 1]) <= tail) {
    above += static_cast<double>(side.counts[k - 1]);
    --k;
  }
  return static_cast<double>(k) * side.binWidth();
}

// Combines per-side thresholds with the observed extent: a side without values keeps the
// observed bound, and a threshold never goes beyond what was observed.
Range combine(const ValueHistogram& h, double pos_threshold, double neg_threshold) {
  Range r = rangeMinMax(h);
  if (h.max() > 0) r.max = static_cast<float>(std::min<double>(h.max(), pos_threshold));
  if (h.min() < 0) r.min = static_cast<float>(std::max<double>(h.min(), -neg_threshold));
  return r;
}

// MXNet/TensorRT smoothing: zero bins get eps, nonzero bins give it back, so KL stays finite.
void smooth(std::vector<double>& p) {
  constexpr double kEps = 1e-4;
  size_t zeros = 0;
  for (double v : p) zeros += v == 0 ? 1 : 0;
  const size_t nonzeros = p.size() - zeros;
  if (nonzeros == 0) return;
  const double give = kEps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : p) v = v == 0 ? kEps : v - give;
}

double klDivergence(std::vector<double>& p, std::vector<double>& q) {
  smooth(p);
  smooth(q);
  double sp = 0, sq = 0;
  for (size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double pi = p[i] / sp, qi = q[i] / sq;
    if (pi > 0 && qi > 0) kl += pi * std::log(pi / qi);
  }
  return kl;
}

}  // namespace

Range rangePercentile(const ValueHistogram& h, double percentile) {
  if (h.empty()) return {};
  const double tail = (1.0 - percentile / 100.0) * static_cast<double>(h.finiteCount());
  return combine(h, tailThreshold(h.positive(), tail), tailThreshold(h.negative(), tail));
}

int64_t entropyThresholdBin(const std::vector<uint64_t>& counts, int levels) {
  const int64_t used = usedBins(counts);
  if (used <= levels) return used;
  int64_t best = used;
  double best_kl = std::numeric_limits<double>::infinity();
  std::vector<double> p, q;
  for (int64_t i = levels; i <= used; ++i) {
    // Reference P: the first i bins, with everything beyond folded into the last one.
    p.assign(counts.begin(), counts.begin() + i);
    double outliers = 0;
    for (int64_t j = i; j < used; ++j) outliers += static_cast<double>(counts[static_cast<size_t>(j)]);
    p[static_cast<size_t>(i - 1)] += outliers;
    // Candidate Q: the first i bins merged into `levels` groups, each group's count spread
    // evenly over its nonzero bins (zero bins stay zero, as the quantized value cannot tell).
    // Group g covers bins [g*i/levels, (g+1)*i/levels): equal widths, as quantization levels
    // are. (MXNet's i/levels bins per group with the remainder in the last group makes Q
    // nearly exact just below multiples of `levels`, which pulls thresholds there.)
    q.assign(static_cast<size_t>(i), 0.0);
    for (int64_t g = 0; g < levels; ++g) {
      const int64_t start = g * i / levels, stop = (g + 1) * i / levels;
      double sum = 0;
      int64_t nonzero = 0;
      for (int64_t j = start; j < stop; ++j) {
        sum += static_cast<double>(counts[static_cast<size_t>(j)]);
        nonzero += counts[static_cast<size_t>(j)] != 0 ? 1 : 0;
      }
      if (nonzero == 0) continue;
      for (int64_t j = start; j < stop; ++j)
        if (counts[static_cast<size_t>(j)] != 0) q[static_cast<size_t>(j)] = sum / static_cast<double>(nonzero);
    }
    const double kl = klDivergence(p, q);
    if (kl < best_kl) best_kl = kl, best = i;
  }
  return best;
}

int64_t mseThresholdBin(const std::vector<uint64_t>& counts, double levels) {
  const int64_t used = usedBins(counts);
  if (used == 0) return 0;
  // Suffix sums over bins j >= k of n_j, n_j*c_j, n_j*c_j^2 with c_j = j + 0.5 (bin units).
  std::vector<double> s0(static_cast<size_t>(used) + 1, 0), s1(s0), s2(s0);
  for (int64_t j = used - 1; j >= 0; --j) {
    const double n = static_cast<double>(counts[static_cast<size_t>(j)]), c = static_cast<double>(j) + 0.5;
    s0[static_cast<size_t>(j)] = s0[static_cast<size_t>(j) + 1] + n;
    s1[static_cast<size_t>(j)] = s1[static_cast<size_t>(j) + 1] + n * c;
    s2[static_cast<size_t>(j)] = s2[static_cast<size_t>(j) + 1] + n * c * c;
  }
  int64_t best = used;
  double best_error = std::numeric_limits<double>::infinity();
  for (int64_t k = 1; k <= used; ++k) {
    const double t = static_cast<double>(k), step = t / levels;
    const size_t K = static_cast<size_t>(k);
    const double inside = (s0[0] - s0[K]) * step * step / 12.0;
    const double clipped = s2[K] - 2 * t * s1[K] + t * t * s0[K];
    const double error = inside + clipped;
    if (error < best_error) best_error = error, best = k;
  }
  return best;
}

namespace {

bool twoSided(const ValueHistogram& h) { return h.min() < 0 && h.max() > 0; }

// The positive side's counts without the exact zeros (they sit in bin 0).
std::vector<uint64_t> positiveWithoutZeros(const ValueHistogram& h) {
  std::vector<uint64_t> c = h.positive().counts;
  c[0] -= std::min(c[0], h.exactZeros());
  return c;
}

}  // namespace

Range rangeEntropy(const ValueHistogram& h) {
  if (h.empty()) return {};
  const int levels = twoSided(h) ? 128 : 255;
  const auto& pos = h.positive();
  const auto& neg = h.negative();
  return combine(h, static_cast<double>(entropyThresholdBin(positiveWithoutZeros(h), levels)) * pos.binWidth(),
                 static_cast<double>(entropyThresholdBin(neg.counts, levels)) * neg.binWidth());
}

Range rangeMse(const ValueHistogram& h) {
  if (h.empty()) return {};
  const double levels = twoSided(h) ? 127.5 : 255.0;
  const auto& pos = h.positive();
  const auto& neg = h.negative();
  return combine(h, static_cast<double>(mseThresholdBin(positiveWithoutZeros(h), levels)) * pos.binWidth(),
                 static_cast<double>(mseThresholdBin(neg.counts, levels)) * neg.binWidth());
}

Range computeRange(const ValueHistogram& h, RangeMethod method, double percentile) {
  NNC_ENFORCE(method == RangeMethod::kMinMax || h.binned(), "histogram methods need a binned histogram");
  switch (method) {
    case RangeMethod::kMinMax: return rangeMinMax(h);
    case RangeMethod::kPercentile: return rangePercentile(h, percentile);
    case RangeMethod::kEntropy: return rangeEntropy(h);
    case RangeMethod::kMse: return rangeMse(h);
  }
  return rangeMinMax(h);
}

}  // namespace nnc

// Pruning masks from importance scores (see prune_masks.h).
#include "passes/prune_masks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "nncompress/support/status.h"

namespace nnc {
namespace {

// NaN sorts last: a weight whose score is undefined is never chosen before a real one.
double rankable(double score) { return std::isnan(score) ? std::numeric_limits<double>::infinity() : score; }

}  // namespace

std::vector<std::vector<uint8_t>> lowestScoring(const std::vector<const std::vector<double>*>& scores, int64_t k) {
  std::vector<std::vector<uint8_t>> masks(scores.size());
  size_t total = 0;
  for (size_t a = 0; a < scores.size(); ++a) {
    masks[a].assign(scores[a]->size(), 0);
    total += scores[a]->size();
  }
  if (k <= 0 || total == 0) return masks;
  const size_t count = std::min<size_t>(static_cast<size_t>(k), total);
  // The count-th smallest score is the threshold: everything below it is pruned, and as many
  // elements equal to it as are still needed, in (array, index) order.
  std::vector<double> all;
  all.reserve(total);
  for (const auto* s : scores)
    for (double v : *s) all.push_back(rankable(v));
  std::nth_element(all.begin(), all.begin() + static_cast<ptrdiff_t>(count - 1), all.end());
  const double threshold = all[count - 1];
  all = {};
  size_t chosen = 0;
  for (size_t a = 0; a < scores.size(); ++a)
    for (size_t i = 0; i < scores[a]->size(); ++i)
      if (rankable((*scores[a])[i]) < threshold) {
        masks[a][i] = 1;
        ++chosen;
      }
  for (size_t a = 0; a < scores.size() && chosen < count; ++a)
    for (size_t i = 0; i < scores[a]->size() && chosen < count; ++i)
      if (rankable((*scores[a])[i]) == threshold) {
        masks[a][i] = 1;
        ++chosen;
      }
  NNC_ENFORCE(chosen == count, "threshold selection chose the wrong count");
  return masks;
}

std::vector<uint8_t> perOutputMask(const std::vector<double>& scores, const ReductionLayout& layout, int64_t k) {
  NNC_ENFORCE(static_cast<int64_t>(scores.size()) == layout.outer * layout.reduce * layout.inner, "score count");
  std::vector<uint8_t> mask(scores.size(), 0);
  std::vector<double> group(static_cast<size_t>(layout.reduce));
  for (int64_t o = 0; o < layout.outer; ++o)
    for (int64_t i = 0; i < layout.inner; ++i) {
      auto at = [&](int64_t r) { return static_cast<size_t>((o * layout.reduce + r) * layout.inner + i); };
      for (int64_t r = 0; r < layout.reduce; ++r) group[static_cast<size_t>(r)] = scores[at(r)];
      const std::vector<uint8_t> chosen = lowestScoring({&group}, k).front();
      for (int64_t r = 0; r < layout.reduce; ++r) mask[at(r)] = chosen[static_cast<size_t>(r)];
    }
  return mask;
}

std::vector<uint8_t> nmMask(const std::vector<double>& scores, const ReductionLayout& layout, int64_t n, int64_t m) {
  NNC_ENFORCE(m > 0 && n >= 0 && n <= m && layout.reduce % m == 0, "bad N:M layout");
  NNC_ENFORCE(static_cast<int64_t>(scores.size()) == layout.outer * layout.reduce * layout.inner, "score count");
  std::vector<uint8_t> mask(scores.size(), 0);
  std::vector<int64_t> run(static_cast<size_t>(m));
  for (int64_t o = 0; o < layout.outer; ++o)
    for (int64_t r0 = 0; r0 < layout.reduce; r0 += m)
      for (int64_t i = 0; i < layout.inner; ++i) {
        for (int64_t j = 0; j < m; ++j) run[static_cast<size_t>(j)] = (o * layout.reduce + r0 + j) * layout.inner + i;
        // Stable order by score keeps the lower index first among ties.
        std::stable_sort(run.begin(), run.end(), [&](int64_t a, int64_t b) {
          return rankable(scores[static_cast<size_t>(a)]) < rankable(scores[static_cast<size_t>(b)]);
        });
        for (int64_t j = 0; j < m - n; ++j) mask[static_cast<size_t>(run[static_cast<size_t>(j)])] = 1;
      }
  return mask;
}

}  // namespace nnc

// Per-feature L2 norms of intermediate values over calibration data, e.g. ||X_j|| for every
// input feature j of a layer, as activation-aware pruning (Wanda: |W_ij| * ||X_j||) needs.
// The model runs in the runtime Session; its observer hook sees each value as it is computed.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "nncompress/data/dataset.h"

namespace nnc {

// One value to measure: the norm is taken over every axis but `axis` (negative: from the end),
// which must have `features` entries.
struct FeatureProbe {
  const Value* value;
  int64_t axis;
  int64_t features;
};

struct ActivationNormOptions {
  int64_t samples = 0;     // 0: every sample of the dataset
  int64_t batch_size = 32;
  int threads = 0;
  // Called after each batch with (samples done, samples total).
  std::function<void(int64_t, int64_t)> progress;
};

// sqrt(sum of x^2) per feature for each probe, in probe order. Values must be float32 and be
// graph inputs or outputs of main-graph nodes; a probe on a value that the runs never produce
// (e.g. inside a subgraph) gets an empty vector.
Expected<std::vector<std::vector<double>>> activationFeatureNorms(const Model& model, const std::vector<FeatureProbe>& probes,
                                                                  const Dataset& data, const ActivationNormOptions& options);

}  // namespace nnc

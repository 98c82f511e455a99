// What the pipeline measures about each stage's model: size on disk, parameters, sparsity,
// batch-1 latency, and quality against labels (accuracy) and against the original model's
// outputs (top-1 agreement, SQNR of the first output).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nncompress/data/dataset.h"
#include "nncompress/ir/graph.h"

namespace nnc {

// One layer of a stage's model (a node with constant inputs, as `inspect` lists it).
struct LayerStat {
  std::string name;
  std::string op;
  int64_t params = 0;
  double sparsity = 0;  // zero fraction of the layer's largest weight
};

struct StageMetrics {
  uint64_t bytes = 0;
  int64_t params = 0;
  double sparsity = 0;  // zero fraction of all constant weights
  double latency_ms = 0;  // median of batch-1 runs
  std::optional<double> accuracy;   // top-1 on the eval data, with labels
  std::optional<double> agreement;  // top-1 agreement with the original model
  std::optional<double> sqnr_db;    // of the first output vs the original's; unset when identical
  int64_t samples = 0;
  std::vector<LayerStat> layers;    // in graph order
};

// The original model's first output on every eval batch: the reference for agreement and SQNR.
struct ReferenceOutputs {
  std::vector<Tensor> batches;
};

struct EvalSettings {
  const Dataset* data = nullptr;  // eval samples (labels optional); required
  int64_t batch_size = 32;
  int64_t limit = 0;  // 0: all samples
  int latency_runs = 5;
  int threads = 0;
};

Expected<ReferenceOutputs> computeReference(const Model& model, const EvalSettings& settings);

// Measures `model` (saved at `path`, whose size is reported) against the labels and `reference`.
Expected<StageMetrics> measureStage(Model& model, const std::string& path, const ReferenceOutputs& reference,
                                    const EvalSettings& settings);

}  // namespace nnc

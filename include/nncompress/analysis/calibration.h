// Calibration: runs a model over a dataset with the Session's observer and keeps, for every
// float activation value, a ValueHistogram (never the activations themselves, so memory does
// not grow with the number of samples). The result is an ActivationRanges table, which reads
// from and writes to a JSON ranges file that people can edit (docs/ranges.md): pin a range,
// or list nodes that must stay in float.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nncompress/analysis/histogram.h"
#include "nncompress/data/dataset.h"

namespace nnc {

// The range of one value, as quantization will use it.
struct ValueRange {
  std::string name;
  float min = 0, max = 0;                    // the range to quantize to
  float observed_min = 0, observed_max = 0;  // what calibration saw (informational)
  bool pinned = false;                       // set by a person: kept as is by recalibration
};

struct ActivationRanges {
  std::string method;        // "minmax", "percentile", ... (or "manual")
  double percentile = 0;     // with method "percentile"
  int64_t samples = 0;       // calibration samples seen
  std::string digest;        // "fnv1a64:<16 hex>" of the calibration inputs, in order
  std::vector<ValueRange> values;       // execution order
  std::vector<std::string> float_nodes;  // node-name or op-type patterns to keep in float

  const ValueRange* find(const std::string& value_name) const;
  // Takes the ranges `pins` marks pinned (replacing or appending) and its float_nodes: what a
  // person wrote in a ranges file wins over a fresh calibration.
  void applyOverrides(const ActivationRanges& pins);
};

struct CalibrationOptions {
  RangeMethod method = RangeMethod::kMinMax;
  double percentile = 99.99;
  int64_t max_samples = 0;  // 0: all samples of the dataset
  int64_t batch_size = 32;
  int bins = 2048;          // histogram bins per side
};

// Called after each batch with samples done and total.
using CalibrationProgress = std::function<void(int64_t done, int64_t total)>;

// Runs `model` on the dataset and computes the range of every float value its nodes compute
// (Constant outputs excluded) and of its float graph inputs.
Expected<ActivationRanges> calibrate(const Model& model, const Dataset& dataset, const CalibrationOptions& options,
                                     int threads = 0, const CalibrationProgress& progress = {});

// JSON form (docs/ranges.md) and back; parse errors name the key.
nlohmann::ordered_json rangesToJson(const ActivationRanges& ranges);
Expected<ActivationRanges> rangesFromJson(const nlohmann::ordered_json& json);
Expected<ActivationRanges> readRangesFile(const std::string& path);
// Written atomically; fails if the file exists and overwrite is false.
Status writeRangesFile(const ActivationRanges& ranges, const std::string& path, bool overwrite);

}  // namespace nnc

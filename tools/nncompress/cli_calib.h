// Options and steps shared by `calibrate` and `quantize`: calibration data (--calib-data with
// the usual preprocessing options), the range method, and the preparation both commands apply
// before calibrating (the canonicalize pass), so that value names in a ranges file written by
// `calibrate` match the model `quantize` rewrites.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/analysis/calibration.h"

namespace nnc::cli {

struct CalibCliOptions {
  DataCliOptions data;
  std::string method = "minmax";
  double percentile = 99.99;
  int64_t samples = 0;  // 0: all
};

// --calib-data (required or not), --calib-samples, --calib, --percentile and preprocessing.
void addCalibrationOptions(CLI::App* app, CalibCliOptions& options, bool data_required);

// Loads the model and applies canonicalize (BatchNorm folding, constant folding, ...).
Expected<Model> loadPreparedModel(const std::string& path, const GlobalOptions& global);

// Calibrates `model` on the --calib-data samples, with progress lines on stderr.
Expected<ActivationRanges> runCalibration(const Model& model, const CalibCliOptions& options, const GlobalOptions& global,
                                          double* seconds);

// The --calib-data samples as a dataset for `model` (for passes that read calibration data).
Expected<Dataset> openCalibrationData(const Model& model, const CalibCliOptions& options, const GlobalOptions& global);

}  // namespace nnc::cli

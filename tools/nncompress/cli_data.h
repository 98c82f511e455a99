// Data options shared by the commands that feed models (eval, compare; later calibrate, train).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "nncompress/data/dataset.h"
#include "nncompress/data/random_inputs.h"

namespace nnc::cli {

struct DataCliOptions {
  std::vector<std::string> data;    // --data [NAME=]PATH (repeatable)
  std::string labels;               // --labels PATH
  std::string scale = "1";          // --scale F or A/B
  std::vector<float> mean, std;     // --mean, --std (per channel)
  int64_t batch_size = 32;
  int64_t limit = 0;                // 0: all samples
  ImageOptions image;               // --resize, --crop, --nhwc, --bgr, --grayscale
  std::string data_flag = "--data";  // how error messages name the data option
};

void addDataOptions(CLI::App* app, DataCliOptions& options, bool with_labels);
// The preprocessing and batching options alone (--scale, --mean, --std, --batch-size, images),
// for commands that name their data option differently (calibrate, quantize: --calib-data).
void addPreprocessOptions(CLI::App* app, DataCliOptions& options);

// Builds the dataset for a session from the options; errors name the option.
Expected<Dataset> buildDataset(const Session& session, const DataCliOptions& options);

// "--dim NAME=VALUE" options into a map.
Expected<std::map<std::string, int64_t>> parseDims(const std::vector<std::string>& specs);

// Options that shape generated inputs (run --random, bench): --dim, --shape, --const.
struct GeneratedInputOptions {
  std::vector<std::string> dims, shapes, constants;
};
void addGeneratedInputOptions(CLI::App* app, GeneratedInputOptions& options);
// Into RandomInputOptions (batch and seed are set by the caller).
Status applyGeneratedInputOptions(const GeneratedInputOptions& options, RandomInputOptions& random);

}  // namespace nnc::cli

// Options of `quantize` for accuracy-aware quantization (--max-accuracy-drop, --min-agreement,
// --data/--labels evaluation data, --eval-samples, --time-budget) and the step that runs the
// library's search (nncompress/passes/quant_sensitivity.h) with progress lines.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/passes/quant_sensitivity.h"

namespace nnc::cli {

struct AccuracyCliOptions {
  DataCliOptions eval;         // --data, --labels; preprocessing is the calibration data's
  double max_accuracy_drop = -1;  // < 0: not given
  double min_agreement = -1;
  double time_budget = 0;
  int64_t eval_samples = 0;
  bool requested() const { return max_accuracy_drop >= 0 || min_agreement >= 0; }
};

void addAccuracyOptions(CLI::App* app, AccuracyCliOptions& options);

// Checks the combination of options (a usage error names the option).
Status checkAccuracyOptions(const AccuracyCliOptions& options);

// Runs the search; `preprocess` supplies --scale/--mean/--std/--batch-size/image options.
Expected<SensitivitySearchResult> runAccuracySearch(const Model& model, const ActivationRanges& ranges,
                                                    const QuantizeOptions& quantize, const AccuracyCliOptions& options,
                                                    const DataCliOptions& preprocess, const GlobalOptions& global);

// The search report for --json, and one line per layer for the text summary.
nlohmann::ordered_json searchToJson(const SensitivitySearchResult& result);
void printSearchSummary(const SensitivitySearchResult& result);

}  // namespace nnc::cli

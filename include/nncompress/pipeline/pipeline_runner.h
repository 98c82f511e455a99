// `nncompress pipeline`: runs passes in order, and after each stage saves the stage's model
// (the backup, "<out>.stages/NN-<pass>.onnx"), measures it (stage_metrics.h) and adds a row to
// the report ("<out>.report.json", docs/pipeline.md). With resume, stages whose saved model is
// still the one the report recorded (same input digest, same settings, same pipeline prefix,
// same file digest) are reused instead of recomputed.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nncompress/passes/pass.h"
#include "nncompress/pipeline/stage_metrics.h"

namespace nnc {

struct StageRow {
  int index = 0;              // 0: the original model
  std::string pass;           // "original" for row 0
  std::string prefix;         // normalized pipeline up to and including this stage
  std::string file;           // the stage's model, relative to the report's folder
  std::string digest;         // "fnv1a64:<16 hex>" of that file
  std::string summary;        // the pass's one-line summary
  bool resumed = false;       // reused from an earlier run's report
  StageMetrics metrics;
};

struct PipelineReport {
  std::string pipeline;      // normalized
  std::string input;         // input model path as given
  std::string input_digest;  // of the input file
  std::string settings;      // data/eval settings that resumed rows must share
  StageRow original;
  std::vector<StageRow> stages;
};

struct PipelineOptions {
  std::string input;   // .onnx model
  std::string output;  // final .onnx; stage files and report are named after it
  std::vector<PassSpec> passes;
  const Dataset* calib = nullptr;  // PassContext::data (quantize calibrates on it at its stage)
  const Dataset* train = nullptr;  // PassContext::train_data (labeled; finetune trains on it)
  EvalSettings eval;
  std::string settings;  // describes data options; resume reuses rows only when equal
  bool resume = false;
  bool overwrite = false;  // replace existing stage files, report and output
  uint64_t seed = 0;
  int threads = 0;
  // Called after each stage (and once for the original) with its row.
  std::function<void(const StageRow&)> on_row;
  // Long work inside passes (calibration).
  std::function<void(const std::string&, int64_t, int64_t)> progress;
};

// "<out without .onnx>.stages", "<out without .onnx>.report.json".
std::string stagesFolder(const std::string& output);
std::string reportPath(const std::string& output);
// "<out>.report.html" beside "<out>.report.json" (html_report.h).
std::string htmlReportPath(const std::string& report_path);
// "fnv1a64:<16 hex>" of a file's bytes.
Expected<std::string> fileDigest(const std::string& path);

// Runs the pipeline and writes stage files, the report and the output (all atomically).
Expected<PipelineReport> runPipeline(const PipelineOptions& options);

nlohmann::ordered_json reportToJson(const PipelineReport& report);
Expected<PipelineReport> reportFromJson(const nlohmann::ordered_json& json);

// Final stage vs original: accuracy_drop (points), agreement (%), size_ratio, latency_ratio
// (those measured), for quality gates.
std::map<std::string, double> gateValues(const PipelineReport& report);

}  // namespace nnc

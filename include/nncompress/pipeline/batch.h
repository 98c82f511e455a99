// `nncompress batch`: one pipeline per model of a zoo (a folder of .onnx files or a JSON
// manifest), run in parallel, a deterministic shard of the zoo per machine, and a summary of
// every model (summary.csv, summary.json, index.html) that shard summaries merge into
// (docs/batch.md has the manifest and summary schemas).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nncompress/pipeline/pipeline_runner.h"
#include "nncompress/support/status.h"

namespace nnc {

// One model of the zoo. Empty data fields mean "use the batch's defaults".
struct ZooEntry {
  std::string name;  // unique; the model's output folder OUTDIR/<name>/
  std::string path;  // the .onnx model
  std::vector<std::string> data;        // eval data specs ([NAME=]PATH)
  std::string labels;
  std::vector<std::string> calib_data;  // calibration data specs
  std::optional<std::string> scale;     // "1/255"
  std::map<std::string, int64_t> dims;  // symbolic dims for random inputs
  std::map<std::string, std::vector<int64_t>> shapes;  // whole input shapes for random inputs
};

// A folder (every *.onnx in it, named by file stem) or a manifest .json; entries sorted by
// name. Relative paths in a manifest are relative to the manifest's folder. Duplicate names
// and malformed manifests fail with a message naming the zoo.
Expected<std::vector<ZooEntry>> readZoo(const std::string& zoo);

// "I/N" with 0 <= I < N.
struct Shard {
  int index = 0;
  int count = 1;
};
Expected<Shard> parseShard(const std::string& text);
// The entries whose position in the name-sorted zoo is congruent to index modulo count.
std::vector<ZooEntry> selectShard(const std::vector<ZooEntry>& sorted, const Shard& shard);

// One line of the summary.
struct BatchRow {
  std::string name;
  std::string model;  // the input path as listed by the zoo
  std::string status;  // "ok" or "failed"
  std::string error;   // one line; empty when ok
  std::string eval_data;  // "labeled", "unlabeled" or "random"
  std::string report;     // the model's HTML report, relative to the summary's folder
  std::optional<uint64_t> bytes_before, bytes_after;
  std::optional<int64_t> params_before, params_after;
  std::optional<double> accuracy_before, accuracy_after, agreement_after, sqnr_db_after;
  std::optional<double> latency_ms_before, latency_ms_after;  // timing
  double seconds = 0;                                           // timing: wall time of the model
};

// A row from a finished pipeline's report (original vs final stage).
BatchRow rowFromReport(const ZooEntry& entry, const PipelineReport& report, const std::string& report_html);
// A failed row; the error is reduced to its first line.
BatchRow failedRow(const ZooEntry& entry, const std::string& error);

// Runs `run` on every entry with `jobs` worker threads; rows come back in entry order
// whatever the completion order. `done` (optional) is called, serialized, as each finishes.
std::vector<BatchRow> runBatch(const std::vector<ZooEntry>& entries, int jobs,
                               const std::function<BatchRow(const ZooEntry&)>& run,
                               const std::function<void(const BatchRow&, size_t finished, size_t total)>& done);

struct BatchSummary {
  std::string pipeline;  // normalized
  std::vector<BatchRow> rows;  // sorted by name
};

nlohmann::ordered_json summaryToJson(const BatchSummary& summary);
Expected<BatchSummary> summaryFromJson(const nlohmann::ordered_json& json, const std::string& source);
std::string summaryToCsv(const BatchSummary& summary);
// Self-contained HTML (no scripts, no network): a table with a link to every model's report.
std::string renderBatchIndex(const BatchSummary& summary);
// Writes OUTDIR/summary.json, summary.csv and index.html atomically.
Status writeSummary(const BatchSummary& summary, const std::string& outdir);

// Combines shard folders: reads each summary.json, copies each shard's model folders into
// `outdir` (unless the shard is `outdir`), and returns the rows sorted by name. Fails when
// the shards ran different pipelines or list a model twice.
Expected<BatchSummary> mergeShards(const std::vector<std::string>& shard_dirs, const std::string& outdir, bool overwrite);

}  // namespace nnc

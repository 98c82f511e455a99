// The pipeline report's JSON form (schema in docs/pipeline.md), read back for --resume, and the
// values quality gates compare.
#include <cstdio>

#include "nncompress/pipeline/pipeline_runner.h"

namespace nnc {
namespace {

using Json = nlohmann::ordered_json;

Json optionalNumber(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

Json rowToJson(const StageRow& row) {
  Json j;
  j["stage"] = row.index;
  j["pass"] = row.pass;
  j["pipeline_prefix"] = row.prefix;
  j["file"] = row.file;
  j["digest"] = row.digest;
  j["summary"] = row.summary;
  j["resumed"] = row.resumed;
  j["bytes"] = row.metrics.bytes;
  j["params"] = row.metrics.params;
  j["sparsity"] = row.metrics.sparsity;
  j["latency_ms"] = row.metrics.latency_ms;
  j["samples"] = row.metrics.samples;
  j["accuracy"] = optionalNumber(row.metrics.accuracy);
  j["agreement"] = optionalNumber(row.metrics.agreement);
  j["sqnr_db"] = optionalNumber(row.metrics.sqnr_db);
  Json layers = Json::array();
  for (const LayerStat& l : row.metrics.layers)
    layers.push_back({{"name", l.name}, {"op", l.op}, {"params", l.params}, {"sparsity", l.sparsity}});
  j["layers"] = layers;
  return j;
}

std::optional<double> readOptional(const Json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<double>();
}

StageRow rowFromJson(const Json& j) {
  StageRow row;
  row.index = j.at("stage").get<int>();
  row.pass = j.at("pass").get<std::string>();
  row.prefix = j.at("pipeline_prefix").get<std::string>();
  row.file = j.at("file").get<std::string>();
  row.digest = j.at("digest").get<std::string>();
  row.summary = j.at("summary").get<std::string>();
  row.metrics.bytes = j.at("bytes").get<uint64_t>();
  row.metrics.params = j.at("params").get<int64_t>();
  row.metrics.sparsity = j.at("sparsity").get<double>();
  row.metrics.latency_ms = j.at("latency_ms").get<double>();
  row.metrics.samples = j.at("samples").get<int64_t>();
  row.metrics.accuracy = readOptional(j, "accuracy");
  row.metrics.agreement = readOptional(j, "agreement");
  row.metrics.sqnr_db = readOptional(j, "sqnr_db");
  if (j.contains("layers"))
    for (const Json& l : j.at("layers"))
      row.metrics.layers.push_back({l.at("name").get<std::string>(), l.at("op").get<std::string>(), l.at("params").get<int64_t>(),
                                    l.at("sparsity").get<double>()});
  return row;
}

}  // namespace

Json reportToJson(const PipelineReport& report) {
  Json j;
  j["format"] = "nncompress.pipeline_report/1";
  j["pipeline"] = report.pipeline;
  j["input"] = report.input;
  j["input_digest"] = report.input_digest;
  j["settings"] = report.settings;
  Json rows = Json::array();
  rows.push_back(rowToJson(report.original));
  for (const StageRow& row : report.stages) rows.push_back(rowToJson(row));
  j["rows"] = rows;
  Json final_vs_original = Json::object();
  for (const auto& [name, value] : gateValues(report)) final_vs_original[name] = value;
  j["final_vs_original"] = final_vs_original;
  return j;
}

Expected<PipelineReport> reportFromJson(const Json& json) {
  try {
    if (json.at("format").get<std::string>() != "nncompress.pipeline_report/1")
      return invalidArgument("not a pipeline report (format " + json.at("format").dump() + ")");
    PipelineReport report;
    report.pipeline = json.at("pipeline").get<std::string>();
    report.input = json.at("input").get<std::string>();
    report.input_digest = json.at("input_digest").get<std::string>();
    report.settings = json.at("settings").get<std::string>();
    const Json& rows = json.at("rows");
    if (!rows.is_array() || rows.empty()) return invalidArgument("pipeline report: 'rows' must list the original first");
    report.original = rowFromJson(rows[0]);
    for (size_t i = 1; i < rows.size(); ++i) report.stages.push_back(rowFromJson(rows[i]));
    return report;
  } catch (const nlohmann::json::exception& e) {
    return invalidArgument(std::string("pipeline report: ") + e.what());
  }
}

std::map<std::string, double> gateValues(const PipelineReport& report) {
  std::map<std::string, double> values;
  const StageMetrics& before = report.original.metrics;
  const StageMetrics& after = report.stages.empty() ? before : report.stages.back().metrics;
  if (before.accuracy && after.accuracy) values["accuracy_drop"] = 100.0 * (*before.accuracy - *after.accuracy);
  if (after.agreement) values["agreement"] = 100.0 * *after.agreement;
  if (before.bytes) values["size_ratio"] = static_cast<double>(after.bytes) / static_cast<double>(before.bytes);
  if (before.latency_ms > 0) values["latency_ratio"] = after.latency_ms / before.latency_ms;
  return values;
}

}  // namespace nnc

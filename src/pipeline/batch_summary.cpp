// See batch.h: summary rows from pipeline reports, their JSON/CSV/HTML forms, and merging the
// summaries of shards. Rows are always sorted by model name, so a merged summary lists the
// models in the same order as an unsharded run.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nncompress/pipeline/batch.h"
#include "nncompress/support/file_io.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kFormat = "nncompress-batch-summary";

template <typename T>
Json optionalValue(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

template <typename T>
std::optional<T> readOptional(const Json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<T>();
}

Json rowToJson(const BatchRow& row) {
  Json j;
  j["name"] = row.name;
  j["model"] = row.model;
  j["status"] = row.status;
  j["error"] = row.error;
  j["eval_data"] = row.eval_data;
  j["report"] = row.report;
  j["bytes_before"] = optionalValue(row.bytes_before);
  j["bytes_after"] = optionalValue(row.bytes_after);
  j["params_before"] = optionalValue(row.params_before);
  j["params_after"] = optionalValue(row.params_after);
  j["accuracy_before"] = optionalValue(row.accuracy_before);
  j["accuracy_after"] = optionalValue(row.accuracy_after);
  j["agreement_after"] = optionalValue(row.agreement_after);
  j["sqnr_db_after"] = optionalValue(row.sqnr_db_after);
  j["latency_ms_before"] = optionalValue(row.latency_ms_before);
  j["latency_ms_after"] = optionalValue(row.latency_ms_after);
  j["seconds"] = row.seconds;
  return j;
}

BatchRow rowFromJson(const Json& j) {
  BatchRow row;
  row.name = j.at("name").get<std::string>();
  row.model = j.at("model").get<std::string>();
  row.status = j.at("status").get<std::string>();
  row.error = j.at("error").get<std::string>();
  row.eval_data = j.at("eval_data").get<std::string>();
  row.report = j.at("report").get<std::string>();
  row.bytes_before = readOptional<uint64_t>(j, "bytes_before");
  row.bytes_after = readOptional<uint64_t>(j, "bytes_after");
  row.params_before = readOptional<int64_t>(j, "params_before");
  row.params_after = readOptional<int64_t>(j, "params_after");
  row.accuracy_before = readOptional<double>(j, "accuracy_before");
  row.accuracy_after = readOptional<double>(j, "accuracy_after");
  row.agreement_after = readOptional<double>(j, "agreement_after");
  row.sqnr_db_after = readOptional<double>(j, "sqnr_db_after");
  row.latency_ms_before = readOptional<double>(j, "latency_ms_before");
  row.latency_ms_after = readOptional<double>(j, "latency_ms_after");
  row.seconds = j.at("seconds").get<double>();
  return row;
}

std::string csvField(const Json& value) {
  if (value.is_null()) return "";
  if (!value.is_string()) return value.dump();
  const std::string text = value.get<std::string>();
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';  // CSV doubles quotes inside a quoted field
    quoted += c;
  }
  return quoted + "\"";
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(const char* pattern, const std::optional<double>& value, double factor = 1) {
  if (!value) return "-";
  char text[64];
  std::snprintf(text, sizeof text, pattern, *value * factor);
  return text;
}

std::string bytesText(const std::optional<uint64_t>& bytes) {
  if (!bytes) return "-";
  return number(*bytes >= 1024 * 1024 ? "%.2f MB" : "%.1f KB", static_cast<double>(*bytes), *bytes >= 1024 * 1024 ? 1.0 / (1024 * 1024) : 1.0 / 1024);
}

Status writeText(const std::string& text, const std::string& path) {
  NNC_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::create(path, true));
  NNC_RETURN_IF_ERROR(writer->write(text.data(), text.size()));
  return writer->commit();
}

}  // namespace

BatchRow rowFromReport(const ZooEntry& entry, const PipelineReport& report, const std::string& report_html) {
  BatchRow row;
  row.name = entry.name;
  row.model = entry.path;
  row.status = "ok";
  row.report = report_html;
  const StageMetrics& before = report.original.metrics;
  const StageMetrics& after = report.stages.empty() ? before : report.stages.back().metrics;
  row.bytes_before = before.bytes;
  row.bytes_after = after.bytes;
  row.params_before = before.params;
  row.params_after = after.params;
  row.accuracy_before = before.accuracy;
  row.accuracy_after = after.accuracy;
  row.agreement_after = after.agreement;
  row.sqnr_db_after = after.sqnr_db;
  row.latency_ms_before = before.latency_ms;
  row.latency_ms_after = after.latency_ms;
  return row;
}

BatchRow failedRow(const ZooEntry& entry, const std::string& error) {
  BatchRow row;
  row.name = entry.name;
  row.model = entry.path;
  row.status = "failed";
  row.error = error.substr(0, error.find('\n'));
  return row;
}

Json summaryToJson(const BatchSummary& summary) {
  Json j;
  j["format"] = kFormat;
  j["version"] = 1;
  j["pipeline"] = summary.pipeline;
  int64_t ok = std::count_if(summary.rows.begin(), summary.rows.end(), [](const BatchRow& r) { return r.status == "ok"; });
  j["ok"] = ok;
  j["failed"] = static_cast<int64_t>(summary.rows.size()) - ok;
  Json models = Json::array();
  for (const BatchRow& row : summary.rows) models.push_back(rowToJson(row));
  j["models"] = models;
  return j;
}

Expected<BatchSummary> summaryFromJson(const Json& json, const std::string& source) {
  BatchSummary summary;
  try {
    if (json.at("format") != kFormat || json.at("version") != 1)
      return invalidArgument(source + ": not an nncompress batch summary (version 1)");
    summary.pipeline = json.at("pipeline").get<std::string>();
    for (const Json& row : json.at("models")) summary.rows.push_back(rowFromJson(row));
  } catch (const nlohmann::json::exception& e) {
    return invalidArgument(source + ": malformed batch summary: " + e.what());
  }
  return summary;
}

std::string summaryToCsv(const BatchSummary& summary) {
  std::ostringstream csv;
  const Json models = summaryToJson(summary)["models"];
  bool header = true;
  for (const Json& row : models) {
    if (header) {
      std::string line;
      for (const auto& [key, value] : row.items()) {
        if (!line.empty()) line += ',';
        line += key;
      }
      csv << line << "\n";
      header = false;
    }
    std::string line;
    bool first = true;
    for (const auto& [key, value] : row.items()) {
      if (!first) line += ',';
      line += csvField(value);
      first = false;
    }
    csv << line << "\n";
  }
  return csv.str();
}

std::string renderBatchIndex(const BatchSummary& summary) {
  std::ostringstream html;
  int64_t ok = std::count_if(summary.rows.begin(), summary.rows.end(), [](const BatchRow& r) { return r.status == "ok"; });
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>nncompress batch</title>\n"
       << "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
       << "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td.l,th.l{text-align:left}"
       << "tr.failed td{background:#fdecea}</style></head><body>\n"
       << "<h1>nncompress batch</h1>\n<p>Pipeline: <code>" << escape(summary.pipeline) << "</code> &middot; " << ok << " ok, "
       << summary.rows.size() - ok << " failed</p>\n<table>\n<tr><th class=\"l\">model</th><th class=\"l\">status</th>"
       << "<th>size before</th><th>size after</th><th>params before</th><th>params after</th><th>accuracy before</th>"
       << "<th>accuracy after</th><th>agreement</th><th>latency before (ms)</th><th>latency after (ms)</th><th>seconds</th></tr>\n";
  for (const BatchRow& row : summary.rows) {
    html << "<tr class=\"" << (row.status == "ok" ? "ok" : "failed") << "\"><td class=\"l\">";
    if (row.report.empty()) html << escape(row.name);
    else html << "<a href=\"" << escape(row.report) << "\">" << escape(row.name) << "</a>";
    html << "</td><td class=\"l\">" << escape(row.status == "ok" ? "ok" : "failed: " + row.error) << "</td><td>"
         << bytesText(row.bytes_before) << "</td><td>" << bytesText(row.bytes_after) << "</td><td>"
         << (row.params_before ? std::to_string(*row.params_before) : "-") << "</td><td>"
         << (row.params_after ? std::to_string(*row.params_after) : "-") << "</td><td>" << number("%.2f%%", row.accuracy_before, 100)
         << "</td><td>" << number("%.2f%%", row.accuracy_after, 100) << "</td><td>" << number("%.2f%%", row.agreement_after, 100)
         << "</td><td>" << number("%.3f", row.latency_ms_before) << "</td><td>" << number("%.3f", row.latency_ms_after) << "</td><td>"
         << number("%.1f", row.seconds) << "</td></tr>\n";
  }
  html << "</table>\n</body></html>\n";
  return html.str();
}

Status writeSummary(const BatchSummary& summary, const std::string& outdir) {
  NNC_RETURN_IF_ERROR(writeText(summaryToJson(summary).dump(2) + "\n", (fs::path(outdir) / "summary.json").string()));
  NNC_RETURN_IF_ERROR(writeText(summaryToCsv(summary), (fs::path(outdir) / "summary.csv").string()));
  return writeText(renderBatchIndex(summary), (fs::path(outdir) / "index.html").string());
}

Expected<BatchSummary> mergeShards(const std::vector<std::string>& shard_dirs, const std::string& outdir, bool overwrite) {
  // All summaries are read and checked before any folder is copied.
  BatchSummary merged;
  std::vector<size_t> shard_of_row;
  for (size_t s = 0; s < shard_dirs.size(); ++s) {
    const std::string path = (fs::path(shard_dirs[s]) / "summary.json").string();
    std::ifstream in(path);
    if (!in) return ioError(path + ": cannot read the shard's summary");
    std::stringstream text;
    text << in.rdbuf();
    Json json;
    try {
      json = Json::parse(text.str());
    } catch (const nlohmann::json::exception& e) {
      return invalidArgument(path + ": not JSON: " + e.what());
    }
    NNC_ASSIGN_OR_RETURN(BatchSummary shard, summaryFromJson(json, path));
    if (s == 0) merged.pipeline = shard.pipeline;
    else if (shard.pipeline != merged.pipeline)
      return invalidArgument(path + ": ran '" + shard.pipeline + "', the first shard ran '" + merged.pipeline + "'");
    for (BatchRow& row : shard.rows) {
      merged.rows.push_back(std::move(row));
      shard_of_row.push_back(s);
    }
  }
  std::vector<size_t> order(merged.rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return merged.rows[a].name < merged.rows[b].name; });
  for (size_t i = 1; i < order.size(); ++i)
    if (merged.rows[order[i]].name == merged.rows[order[i - 1]].name)
      return invalidArgument("--merge: model '" + merged.rows[order[i]].name + "' is in two shards' summaries");
  std::error_code ec;
  fs::create_directories(outdir, ec);
  if (ec) return ioError(outdir + ": cannot create the folder: " + ec.message());
  BatchSummary sorted;
  sorted.pipeline = merged.pipeline;
  for (size_t i : order) {
    const BatchRow& row = merged.rows[i];
    const std::string& shard_dir = shard_dirs[shard_of_row[i]];
    const fs::path from = fs::path(shard_dir) / row.name;
    const fs::path to = fs::path(outdir) / row.name;
    if (!fs::equivalent(shard_dir, outdir, ec) && fs::exists(from)) {
      if (fs::exists(to)) {
        if (!overwrite) return Status(ErrorCode::kOutputExists, to.string() + " exists (use --force to replace it)");
        fs::remove_all(to, ec);
      }
      fs::copy(from, to, fs::copy_options::recursive, ec);
      if (ec) return ioError(to.string() + ": cannot copy the shard's model folder: " + ec.message());
    }
    sorted.rows.push_back(row);
  }
  return sorted;
}

}  // namespace nnc

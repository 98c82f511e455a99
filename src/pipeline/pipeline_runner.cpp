// Runs a pipeline stage by stage (see pipeline_runner.h). Every file is written atomically, and
// the report is rewritten after each stage, so an interrupted run leaves only finished stages,
// which --resume then reuses.
#include "nncompress/pipeline/pipeline_runner.h"

#include "nncompress/pipeline/html_report.h"

#include <cstdio>
#include <filesystem>

#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/support/file_io.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

std::string withoutOnnxExtension(const std::string& path) {
  const std::string ext = ".onnx";
  if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0)
    return path.substr(0, path.size() - ext.size());
  return path;
}

Status writeText(const std::string& text, const std::string& path) {
  NNC_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::create(path, true));
  NNC_RETURN_IF_ERROR(writer->write(text.data(), text.size()));
  return writer->commit();
}

// The JSON report and its HTML page, both rewritten after every stage.
Status writeReport(const PipelineReport& report, const std::string& path) {
  NNC_RETURN_IF_ERROR(writeText(reportToJson(report).dump(2) + "\n", path));
  return writeText(renderHtmlReport(report), htmlReportPath(path));
}

// The earlier run's report, when --resume can use it (same input and settings); else none.
std::optional<PipelineReport> previousReport(const PipelineOptions& options, const PipelineReport& current) {
  if (!options.resume || !fs::exists(reportPath(options.output))) return std::nullopt;
  auto file = MappedFile::open(reportPath(options.output));
  if (!file) return std::nullopt;
  auto json = nlohmann::ordered_json::parse((*file)->data(), (*file)->data() + (*file)->size(), nullptr, false);
  if (json.is_discarded()) return std::nullopt;
  auto report = reportFromJson(json);
  if (!report || report->input_digest != current.input_digest || report->settings != current.settings) return std::nullopt;
  return std::move(report).value();
}

// Whether row `i` of the earlier run is still valid for this pipeline: same prefix, and its
// file is still there with the recorded bytes.
bool reusable(const std::optional<PipelineReport>& previous, size_t i, const std::string& prefix, const std::string& folder) {
  if (!previous || i >= previous->stages.size() || previous->stages[i].prefix != prefix) return false;
  auto digest = fileDigest((fs::path(folder) / previous->stages[i].file).string());
  return digest && *digest == previous->stages[i].digest;
}

std::string stageFileName(size_t index, const std::string& pass) {
  char number[16];
  std::snprintf(number, sizeof number, "%02zu-", index);
  return number + pass + ".onnx";
}

}  // namespace

std::string stagesFolder(const std::string& output) { return withoutOnnxExtension(output) + ".stages"; }
std::string reportPath(const std::string& output) { return withoutOnnxExtension(output) + ".report.json"; }
std::string htmlReportPath(const std::string& report_path) {
  const std::string json = ".json";
  return report_path.substr(0, report_path.size() - json.size()) + ".html";
}

Expected<std::string> fileDigest(const std::string& path) {
  NNC_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a 64: stable on every platform
  for (size_t i = 0; i < file->size(); ++i) hash = (hash ^ file->data()[i]) * 0x100000001b3ull;
  char text[32];
  std::snprintf(text, sizeof text, "fnv1a64:%016llx", static_cast<unsigned long long>(hash));
  return std::string(text);
}

Expected<PipelineReport> runPipeline(const PipelineOptions& options) {
  NNC_ENFORCE(options.eval.data != nullptr, "runPipeline needs eval data");
  if (options.passes.empty()) return invalidArgument("the pipeline has no passes");
  const std::string stages_dir = stagesFolder(options.output);
  const std::string report_file = reportPath(options.output);
  if (!options.resume && !options.overwrite)
    for (const std::string& path : {options.output, report_file, htmlReportPath(report_file), stages_dir})
      if (fs::exists(path)) return Status(ErrorCode::kOutputExists, path + " exists (use --force to replace it or --resume to continue)");
  // Relative paths in the report are relative to the report's folder.
  const std::string report_dir = parentFolder(report_file);
  const std::string stages_relative = baseName(stages_dir);
  std::error_code error;
  fs::create_directories(stages_dir, error);
  if (error) return ioError(stages_dir + ": cannot create the stages folder: " + error.message());

  PipelineReport report;
  report.pipeline = formatPipeline(options.passes);
  report.input = options.input;
  report.settings = options.settings;
  NNC_ASSIGN_OR_RETURN(report.input_digest, fileDigest(options.input));
  NNC_ASSIGN_OR_RETURN(Model original, loadModel(options.input));
  const std::optional<PipelineReport> previous = previousReport(options, report);

  NNC_ASSIGN_OR_RETURN(ReferenceOutputs reference, computeReference(original, options.eval));
  if (previous) {
    report.original = previous->original;
    report.original.resumed = true;
  } else {
    report.original.pass = "original";
    report.original.file = options.input;
    report.original.digest = report.input_digest;
    NNC_ASSIGN_OR_RETURN(report.original.metrics, measureStage(original, options.input, reference, options.eval));
  }
  if (options.on_row) options.on_row(report.original);

  // The model entering the next stage; after reused stages it is loaded from the last reused file.
  std::optional<Model> current = std::move(original);
  std::string current_file;  // set while `current` is stale (stages were reused)
  bool reusing = true;  // only a leading run of finished stages is reused
  PassContext context;
  context.seed = options.seed;
  context.threads = options.threads;
  context.data = options.calib;
  context.train_data = options.train;
  context.progress = options.progress;
  for (size_t i = 0; i < options.passes.size(); ++i) {
    const PassSpec& spec = options.passes[i];
    StageRow row;
    row.index = static_cast<int>(i + 1);
    row.pass = spec.name;
    row.prefix = formatPipeline({options.passes.begin(), options.passes.begin() + static_cast<std::ptrdiff_t>(i + 1)});
    row.file = stages_relative + "/" + stageFileName(i + 1, spec.name);
    const std::string stage_path = (fs::path(report_dir) / row.file).string();
    reusing = reusing && reusable(previous, i, row.prefix, report_dir);
    if (reusing) {
      row = previous->stages[i];
      row.resumed = true;
      current_file = stage_path;
    } else {
      if (!current_file.empty()) {
        NNC_ASSIGN_OR_RETURN(Model reloaded, loadModel(current_file));
        current = std::move(reloaded);
        current_file.clear();
      }
      NNC_ASSIGN_OR_RETURN(auto pass, createPass(spec));
      auto result = pass->run(*current, context);
      if (!result) return result.status().withContext("stage " + std::to_string(i + 1) + " (" + spec.name + ")");
      row.summary = result->summary;
      CheckReport check = checkModel(*current);
      if (check.result == CheckResult::kInvalid)
        return Status(ErrorCode::kInternal, "stage " + std::to_string(i + 1) + " (" + spec.name + ") fails the ONNX checker: " + check.message);
      SaveOptions save;
      save.overwrite = true;  // existence was checked above; a stale stage file is replaced
      NNC_RETURN_IF_ERROR(saveModel(*current, stage_path, save).status());
      NNC_ASSIGN_OR_RETURN(row.digest, fileDigest(stage_path));
      NNC_ASSIGN_OR_RETURN(row.metrics, measureStage(*current, stage_path, reference, options.eval));
    }
    report.stages.push_back(row);
    NNC_RETURN_IF_ERROR(writeReport(report, report_file));
    if (options.on_row) options.on_row(row);
  }
  // The output is the last stage's file, copied byte for byte.
  const std::string last = (fs::path(report_dir) / report.stages.back().file).string();
  NNC_ASSIGN_OR_RETURN(auto bytes, MappedFile::open(last));
  NNC_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::create(options.output, true));
  NNC_RETURN_IF_ERROR(writer->write(bytes->data(), bytes->size()));
  NNC_RETURN_IF_ERROR(writer->commit());
  return report;
}

}  // namespace nnc

// `nncompress batch ZOO -o OUTDIR --passes P | --recipe R [data defaults] [--jobs N] [--shard I/N]` runs the
// same pipeline as `nncompress pipeline` on every model of a zoo into OUTDIR/<name>/ and writes
// OUTDIR/summary.{json,csv} and OUTDIR/index.html; `nncompress batch --merge DIR... -o OUTDIR`
// combines shards' outputs (library: src/pipeline/batch_*.cpp; docs/batch.md). Exits 0 when
// every model succeeded, 8 when at least one failed (the summary is written either way).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/onnx/import.h"
#include "nncompress/pipeline/batch.h"
#include "nncompress/pipeline/recipe.h"
#include "nncompress/support/file_io.h"
#include "nncompress/pipeline/pipeline_runner.h"

namespace nnc::cli {
namespace {
namespace fs = std::filesystem;

constexpr int kExitSomeModelsFailed = 8;

struct BatchCliOptions {
  std::vector<std::string> inputs;  // the zoo, or the shard folders with --merge
  bool merge = false;
  std::string passes;
  std::string recipe;
  DataCliOptions data;  // defaults for every model; a manifest entry's fields replace them
  std::vector<std::string> calib_data;
  int jobs = 1;
  std::string shard;
  int64_t random_samples = 64;
  int latency_runs = 5;
};

// The data options of one model: the batch's defaults, replaced field by field by the manifest.
DataCliOptions modelData(const BatchCliOptions& o, const ZooEntry& entry) {
  DataCliOptions data = o.data;
  if (!entry.data.empty()) {
    data.data = entry.data;
    data.labels = entry.labels;  // a model's own data never takes the default labels
  } else if (!entry.labels.empty()) {
    data.labels = entry.labels;
  }
  if (entry.scale) data.scale = *entry.scale;
  return data;
}

// Seeded random eval samples for a model without data: agreement and SQNR against the
// original are still meaningful, accuracy is not measured.
Expected<Dataset> randomDataset(const Session& session, const ZooEntry& entry, int64_t samples, uint64_t seed) {
  RandomInputOptions random;
  random.batch = samples;
  random.dims = entry.dims;
  random.shapes = entry.shapes;
  random.seed = seed;
  NNC_ASSIGN_OR_RETURN(NamedTensors inputs, randomInputs(session, random));
  Dataset dataset;
  for (auto& [name, tensor] : inputs) dataset.addInput(name, arraySource(std::move(tensor), "random input '" + name + "'"));
  NNC_RETURN_IF_ERROR(dataset.validate(session));
  return dataset;
}

// One model's pipeline; every error becomes the row's one-line reason.
Expected<BatchRow> runModel(const BatchCliOptions& o, const GlobalOptions& global, const std::vector<PassSpec>& specs,
                            const ZooEntry& entry, const std::string& outdir) {
  // --threads wins; else all cores for one job at a time, one thread each for parallel jobs.
  const int threads = global.threads > 0 ? global.threads : o.jobs > 1 ? 1 : 0;
  NNC_ASSIGN_OR_RETURN(Model model, loadModel(entry.path));
  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {threads, nullptr}));
  DataCliOptions data = modelData(o, entry);
  std::string eval_kind = data.data.empty() ? "random" : data.labels.empty() ? "unlabeled" : "labeled";
  Expected<Dataset> eval = data.data.empty() ? randomDataset(*session, entry, o.random_samples, global.seed) : buildDataset(*session, data);
  if (!eval) return eval.status();
  std::optional<Dataset> calib;
  const std::vector<std::string>& calib_specs = entry.calib_data.empty() ? o.calib_data : entry.calib_data;
  if (!calib_specs.empty()) {
    DataCliOptions calib_options = data;
    calib_options.data = calib_specs;
    calib_options.labels.clear();
    calib_options.limit = 0;
    calib_options.data_flag = "calib_data";
    NNC_ASSIGN_OR_RETURN(Dataset built, buildDataset(*session, calib_options));
    calib = std::move(built);
  }
  for (const PassSpec& spec : specs) {
    if (spec.name == "quantize" && !calib) return invalidArgument("quantize needs calibration data (calib_data in the manifest or --calib-data)");
    if (spec.name == "finetune") return unsupported("finetune stages are not supported by batch (no training data per model)");
  }
  const std::string folder = (fs::path(outdir) / entry.name).string();
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return ioError(folder + ": cannot create the folder: " + ec.message());
  PipelineOptions run;
  run.input = entry.path;
  run.output = (fs::path(folder) / (entry.name + ".onnx")).string();
  run.passes = specs;
  run.calib = calib ? &*calib : nullptr;
  run.eval.data = &*eval;
  run.eval.batch_size = data.batch_size;
  run.eval.limit = data.limit;
  run.eval.latency_runs = o.latency_runs;
  run.eval.threads = threads;
  run.overwrite = global.force;
  run.seed = global.seed;
  run.threads = threads;
  NNC_ASSIGN_OR_RETURN(PipelineReport report, runPipeline(run));
  BatchRow row = rowFromReport(entry, report, entry.name + "/" + baseName(htmlReportPath(reportPath(run.output))));
  row.eval_data = eval_kind;
  return row;
}

int runMerge(const BatchCliOptions& o, const GlobalOptions& global) {
  auto merged = mergeShards(o.inputs, global.output, global.force);
  if (!merged) return reportError(merged.status());
  Status written = writeSummary(*merged, global.output);
  if (!written.isOk()) return reportError(written);
  size_t failed = std::count_if(merged->rows.begin(), merged->rows.end(), [](const BatchRow& r) { return r.status != "ok"; });
  if (global.json) printJson(summaryToJson(*merged));
  else if (!global.quiet)
    std::printf("merged %zu shards: %zu models, %zu failed; wrote %s/summary.json, summary.csv, index.html\n", o.inputs.size(),
                merged->rows.size(), failed, global.output.c_str());
  return failed == 0 ? kExitOk : kExitSomeModelsFailed;
}

int runBatchCommand(const BatchCliOptions& o, const GlobalOptions& global) {
  if (o.inputs.size() != 1) return reportError(invalidArgument("batch: give one ZOO (a folder or a manifest .json); several folders only with --merge"));
  if (o.passes.empty() == o.recipe.empty()) return reportError(invalidArgument("batch: give the pipeline as --passes TEXT or --recipe FILE"));
  Expected<std::vector<PassSpec>> specs = std::vector<PassSpec>{};
  if (!o.recipe.empty()) {
    auto recipe = loadRecipe(o.recipe);
    if (!recipe) return reportError(recipe.status().withContext("--recipe"));
    if (!recipe->fail_if.empty())
      return reportError(invalidArgument("--recipe " + o.recipe + ": batch does not apply fail_if gates (use pipeline per model)"));
    specs = recipe->passes;
  } else {
    specs = parsePipeline(o.passes);
  }
  if (!specs) return reportError(specs.status().withContext("--passes"));
  for (const PassSpec& spec : *specs) {
    auto pass = createPass(spec);
    if (!pass) return reportError(pass.status().withContext("--passes"));
  }
  Shard shard;
  if (!o.shard.empty()) {
    auto parsed = parseShard(o.shard);
    if (!parsed) return reportError(parsed.status());
    shard = *parsed;
  }
  auto zoo = readZoo(o.inputs[0]);
  if (!zoo) return reportError(zoo.status());
  const std::vector<ZooEntry> entries = selectShard(*zoo, shard);
  const std::string summary_path = (fs::path(global.output) / "summary.json").string();
  if (fs::exists(summary_path) && !global.force)
    return reportError(Status(ErrorCode::kOutputExists, summary_path + " exists (use --force to replace it)"));
  std::error_code ec;
  fs::create_directories(global.output, ec);
  if (ec) return reportError(ioError(global.output + ": cannot create the folder: " + ec.message()));
  const bool chatty = !global.json && !global.quiet;
  if (chatty) std::printf("batch: %zu models (shard %d/%d of %zu), pipeline: %s\n", entries.size(), shard.index, shard.count, zoo->size(),
                          formatPipeline(*specs).c_str());
  auto run_one = [&](const ZooEntry& entry) {
    const auto start = std::chrono::steady_clock::now();
    BatchRow row;
    try {
      auto result = runModel(o, global, *specs, entry, global.output);
      row = result ? std::move(result).value() : failedRow(entry, result.status().message());
    } catch (const std::exception& e) {  // an internal error in one model must not stop the others
      row = failedRow(entry, std::string("internal error: ") + e.what());
    }
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return row;
  };
  auto done = [&](const BatchRow& row, size_t finished, size_t total) {
    if (!chatty) return;
    std::printf("[%zu/%zu] %-24s %s%s (%.1f s)\n", finished, total, row.name.c_str(), row.status.c_str(),
                row.error.empty() ? "" : (": " + row.error).c_str(), row.seconds);
    std::fflush(stdout);
  };
  BatchSummary summary;
  summary.pipeline = formatPipeline(*specs);
  summary.rows = runBatch(entries, o.jobs, run_one, done);
  Status written = writeSummary(summary, global.output);
  if (!written.isOk()) return reportError(written);
  size_t failed = std::count_if(summary.rows.begin(), summary.rows.end(), [](const BatchRow& r) { return r.status != "ok"; });
  if (global.json) printJson(summaryToJson(summary));
  else if (chatty)
    std::printf("%zu ok, %zu failed; wrote %s/summary.json, summary.csv, index.html\n", summary.rows.size() - failed, failed,
                global.output.c_str());
  return failed == 0 ? kExitOk : kExitSomeModelsFailed;
}

}  // namespace

Command addBatchCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<BatchCliOptions>();
  CLI::App* app = root.add_subcommand("batch", "Run one pipeline on every model of a zoo; summary and index (docs/batch.md)");
  app->add_option("zoo", options->inputs, "A folder of .onnx models or a manifest .json (with --merge: the shards' output folders)")->required();
  app->add_option("-o,--output", global.output, "Output folder: <model>/ per model, summary.json, summary.csv, index.html")->required();
  app->add_flag("--merge", options->merge, "Combine the output folders of shards into one summary in -o");
  app->add_option("--passes", options->passes, "The pipeline run on every model, as for `nncompress pipeline`");
  app->add_option("--recipe", options->recipe, "The pipeline as a YAML or JSON recipe file (docs/pipeline.md; without fail_if)");
  addDataOptions(app, options->data, true);
  // Defaults for every model; models without any data get seeded random inputs instead.
  app->get_option("--data")->required(false)->description("Default eval samples for every model ([INPUT=]PATH, as for `pipeline`); without: --random-samples");
  app->add_option("--calib-data", options->calib_data, "Default calibration data for every model (a manifest's calib_data replaces it)");
  app->add_option("--jobs", options->jobs, "Models run in parallel (each single-threaded when > 1)")->default_str("1")->check(CLI::PositiveNumber);
  app->add_option("--shard", options->shard, "Run only shard I of N (0-based): models at positions p with p % N == I in name order");
  app->add_option("--random-samples", options->random_samples, "Seeded random eval samples for models without data")
      ->default_str("64")
      ->check(CLI::PositiveNumber);
  app->add_option("--latency-runs", options->latency_runs, "Batch-1 runs per stage for the median latency")->default_str("5")->check(CLI::PositiveNumber);
  return {app, [options, &global]() -> int { return options->merge ? runMerge(*options, global) : runBatchCommand(*options, global); }};
}

}  // namespace nnc::cli

// `nncompress pipeline MODEL -o OUT --passes 'a,b{k=v}' --data D [--labels L] [--calib-data C]
// [--train-data T --train-labels TL] [--fail-if EXPR] [--resume]`: runs the passes in order, saves and measures every stage
// (library: src/pipeline), prints a table and writes OUT's report; exits 7 when a --fail-if
// gate holds.
#include <cstdio>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/onnx/import.h"
#include "nncompress/pipeline/pipeline_runner.h"
#include "nncompress/pipeline/quality_gate.h"
#include "progress.h"

namespace nnc::cli {
namespace {

struct PipelineCliOptions {
  std::string model;
  std::string passes;
  DataCliOptions data;
  std::vector<std::string> calib_data;
  std::vector<std::string> train_data;
  std::string train_labels;
  std::vector<std::string> fail_if;
  bool resume = false;
  int latency_runs = 5;
};

std::string percent(const std::optional<double>& v) {
  if (!v) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", 100 * *v);
  return text;
}

void printRow(const StageRow& row) {
  char sqnr[32] = "-";
  if (row.metrics.sqnr_db) std::snprintf(sqnr, sizeof sqnr, "%.1f", *row.metrics.sqnr_db);
  std::printf("%-3d %-18s %10s %10s %8.2f%% %9s %9s %7s %10.3f%s\n", row.index, row.pass.substr(0, 18).c_str(),
              formatBytes(row.metrics.bytes).c_str(), formatCount(row.metrics.params).c_str(), 100 * row.metrics.sparsity,
              percent(row.metrics.accuracy).c_str(), percent(row.metrics.agreement).c_str(), sqnr, row.metrics.latency_ms,
              row.resumed ? "  (resumed)" : "");
  std::fflush(stdout);
}

// What resumed rows must share with this run: every option that changes a stage or a number.
std::string settingsKey(const PipelineCliOptions& o, const GlobalOptions& global) {
  nlohmann::ordered_json j;
  j["data"] = o.data.data;
  j["labels"] = o.data.labels;
  j["scale"] = o.data.scale;
  j["mean"] = o.data.mean;
  j["std"] = o.data.std;
  j["batch_size"] = o.data.batch_size;
  j["limit"] = o.data.limit;
  j["calib_data"] = o.calib_data;
  j["train_data"] = o.train_data;
  j["train_labels"] = o.train_labels;
  j["seed"] = global.seed;
  return j.dump();
}

}  // namespace

Command addPipelineCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<PipelineCliOptions>();
  CLI::App* app = root.add_subcommand("pipeline", "Run passes in order; save, evaluate and measure every stage; report (docs/pipeline.md)");
  app->add_option("model", options->model, "The input .onnx model")->required();
  app->add_option("-o,--output", global.output, "Output .onnx path (stages go to OUT.stages/, the report to OUT.report.json)")->required();
  app->add_option("--passes", options->passes, "The pipeline, e.g. 'canonicalize,prune-weights{sparsity=0.5},quantize'")->required();
  addDataOptions(app, options->data, true);
  app->add_option("--calib-data", options->calib_data,
                  "Calibration/importance samples for the passes that use data (quantize calibrates on them at its stage); "
                  "same preprocessing options as --data");
  app->add_option("--train-data", options->train_data,
                  "Labeled training samples for finetune stages (with --train-labels, or an image folder with class subfolders); "
                  "same preprocessing options as --data");
  app->add_option("--train-labels", options->train_labels, "Labels of --train-data");
  app->add_option("--fail-if", options->fail_if,
                  "Quality gate on the final model vs the original, e.g. 'accuracy_drop > 1.0 or size_ratio > 0.5' "
                  "(metrics: accuracy_drop, agreement, size_ratio, latency_ratio; repeatable); exit 7 when one holds");
  app->add_flag("--resume", options->resume, "Reuse the stages an earlier run of the same pipeline finished");
  app->add_option("--latency-runs", options->latency_runs, "Batch-1 runs per stage for the median latency")
      ->default_str("5")
      ->check(CLI::PositiveNumber);
  return {app, [options, &global]() -> int {
            auto specs = parsePipeline(options->passes);
            if (!specs) return reportError(specs.status().withContext("--passes"));
            for (const PassSpec& spec : *specs) {
              auto pass = createPass(spec);  // unknown passes and options fail before any work
              if (!pass) return reportError(pass.status().withContext("--passes"));
            }
            std::vector<QualityGate> gates;
            for (const std::string& text : options->fail_if) {
              auto gate = parseQualityGate(text);
              if (!gate) return reportError(gate.status());
              gates.push_back(std::move(gate).value());
            }
            // Checks that would otherwise fail only after the earlier stages ran.
            for (const PassSpec& spec : *specs)
              if (spec.name == "quantize" && options->calib_data.empty())
                return reportError(invalidArgument("--passes: quantize calibrates at its stage and needs --calib-data"));
              else if (spec.name == "finetune" && options->train_data.empty())
                return reportError(invalidArgument("--passes: finetune trains at its stage and needs --train-data (and --train-labels)"));
            for (const QualityGate& gate : gates)
              for (const auto& conjunction : gate.any_of)
                for (const GateCondition& c : conjunction)
                  if (c.metric == "accuracy_drop" && options->data.labels.empty())
                    return reportError(invalidArgument("--fail-if '" + gate.text + "': accuracy_drop needs --labels"));
            if (!global.json && !global.quiet) std::printf("pipeline: %s\n", formatPipeline(*specs).c_str());
            auto model = loadModel(options->model);
            if (!model) return reportError(model.status());
            auto session = Session::create(*model, {global.threads, nullptr});
            if (!session) return reportError(session.status().withContext(options->model));
            auto eval_data = buildDataset(**session, options->data);
            if (!eval_data) return reportError(eval_data.status());
            std::optional<Dataset> calib;
            if (!options->calib_data.empty()) {
              DataCliOptions calib_options = options->data;
              calib_options.data = options->calib_data;
              calib_options.labels.clear();
              calib_options.limit = 0;
              calib_options.data_flag = "--calib-data";
              auto built = buildDataset(**session, calib_options);
              if (!built) return reportError(built.status());
              calib = std::move(built).value();
            }
            std::optional<Dataset> train;
            if (!options->train_data.empty()) {
              DataCliOptions train_options = options->data;
              train_options.data = options->train_data;
              train_options.labels = options->train_labels;
              train_options.limit = 0;  // finetune{limit=N} bounds the samples per epoch
              train_options.data_flag = "--train-data";
              auto built = buildDataset(**session, train_options);
              if (!built) return reportError(built.status());
              if (!built->hasLabels())
                return reportError(invalidArgument("--train-data: no labels (--train-labels PATH, or an image folder with class subfolders)"));
              train = std::move(built).value();
            }
            PipelineOptions run;
            run.input = options->model;
            run.output = global.output;
            run.passes = *specs;
            run.calib = calib ? &*calib : nullptr;
            run.train = train ? &*train : nullptr;
            run.eval.data = &*eval_data;
            run.eval.batch_size = options->data.batch_size;
            run.eval.limit = options->data.limit;
            run.eval.latency_runs = options->latency_runs;
            run.eval.threads = global.threads;
            run.settings = settingsKey(*options, global);
            run.resume = options->resume;
            run.overwrite = global.force;
            run.seed = global.seed;
            run.threads = global.threads;
            // Long work inside a stage (calibration, training epochs): one progress line per task.
            std::shared_ptr<Progress> task_progress;
            std::string task;
            run.progress = [&](const std::string& what, int64_t done, int64_t total) {
              if (what != task || !task_progress) {
                if (task_progress) task_progress->finish();
                task = what;
                task_progress = std::make_shared<Progress>(what, total, global.quiet || global.json);
              }
              task_progress->update(done);
              if (done >= total) {
                task_progress->finish();
                task_progress.reset();
              }
            };
            if (!global.json && !global.quiet) {
              std::printf("%-3s %-18s %10s %10s %9s %9s %9s %7s %10s\n", "#", "stage", "size", "params", "sparsity", "accuracy",
                          "agreement", "SQNR dB", "latency ms");
              run.on_row = printRow;
            }
            auto report = runPipeline(run);
            if (!report) return reportError(report.status());
            const auto values = gateValues(*report);
            std::vector<std::string> failed;
            for (const QualityGate& gate : gates) {
              auto holds = gateHolds(gate, values);
              if (!holds) return reportError(holds.status());
              if (*holds) failed.push_back(gate.text);
            }
            if (global.json) {
              nlohmann::ordered_json j = reportToJson(*report);
              j["failed_gates"] = failed;
              printJson(j);
            } else if (!global.quiet) {
              std::printf("wrote %s, %s/, %s, %s\n", global.output.c_str(), stagesFolder(global.output).c_str(), reportPath(global.output).c_str(),
                          htmlReportPath(reportPath(global.output)).c_str());
            }
            for (const std::string& text : failed) std::fprintf(stderr, "nncompress: quality gate failed: %s\n", text.c_str());
            return failed.empty() ? kExitOk : kExitGateFailed;
          }};
}

}  // namespace nnc::cli

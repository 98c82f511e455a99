// `nncompress eval MODEL --data D --labels L`: top-1 and top-5 accuracy of a classifier.
#include <chrono>
#include <cstdio>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/analysis/metrics.h"
#include "nncompress/onnx/import.h"
#include "progress.h"

namespace nnc::cli {
namespace {

struct EvalOptions {
  std::string model;
  std::string output;  // which model output holds the logits ("" = the first)
  DataCliOptions data;
};

}  // namespace

Command addEvalCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* app = root.add_subcommand("eval", "Top-1/top-5 accuracy of a classifier on labeled data");
  app->add_option("model", options->model, "The .onnx model")->required();
  addDataOptions(app, options->data, true);
  app->add_option("--logits", options->output, "Name of the output holding [N, classes] scores (default: the first)");
  return {app, [options, &global]() -> int {
            auto model = loadModel(options->model);
            if (!model) return reportError(model.status());
            auto session = Session::create(*model, {global.threads, nullptr});
            if (!session) return reportError(session.status().withContext(options->model));
            auto dataset = buildDataset(**session, options->data);
            if (!dataset) return reportError(dataset.status());
            if (!dataset->hasLabels())
              return reportError(invalidArgument("eval needs labels: --labels PATH, or an image folder with class subfolders"));
            size_t output_index = 0;
            if (!options->output.empty()) {
              const auto& outs = (*session)->outputs();
              auto it = std::find_if(outs.begin(), outs.end(), [&](const Value* v) { return v->name() == options->output; });
              if (it == outs.end()) return reportError(invalidArgument("--logits: the model has no output '" + options->output + "'"));
              output_index = static_cast<size_t>(it - outs.begin());
            }
            int64_t total = dataset->size();
            if (options->data.limit > 0) total = std::min(total, options->data.limit);
            const auto start = std::chrono::steady_clock::now();
            AccuracyCounter counter;
            Progress progress("eval", total, global.quiet);
            for (int64_t begin = 0; begin < total; begin += options->data.batch_size) {
              const int64_t n = std::min(options->data.batch_size, total - begin);
              auto inputs = dataset->batch(**session, begin, n);
              if (!inputs) return reportError(inputs.status());
              auto outputs = (*session)->run(*inputs);
              if (!outputs) return reportError(outputs.status().withContext(options->model));
              Status s = counter.add((*outputs)[output_index], *dataset->labels(), begin);
              if (!s.isOk()) return reportError(s);
              char extra[64];
              std::snprintf(extra, sizeof extra, "top-1 %.2f%%", 100 * counter.top1Accuracy());
              progress.update(begin + n, extra);
            }
            progress.finish();
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (global.json) {
              nlohmann::ordered_json j;
              j["model"] = options->model;
              j["samples"] = counter.samples;
              j["top1"] = counter.top1Accuracy();
              j["top5"] = counter.top5Accuracy();
              j["top1_correct"] = counter.top1;
              j["top5_correct"] = counter.top5;
              j["seconds"] = seconds;
              printJson(j);
            } else {
              std::printf("%s: top-1 %.2f%% (%lld/%lld), top-5 %.2f%% on %lld samples in %.2f s\n", options->model.c_str(),
                          100 * counter.top1Accuracy(), static_cast<long long>(counter.top1), static_cast<long long>(counter.samples),
                          100 * counter.top5Accuracy(), static_cast<long long>(counter.samples), seconds);
            }
            return kExitOk;
          }};
}

}  // namespace nnc::cli

// `nncompress finetune MODEL -o OUT --data D --labels L --epochs N ...`: supervised training
// of a model's float weights (softmax cross-entropy on the logits), keeping pruning masks.
// The CLI parses flags and reports; the loop is nnc::train::finetune (src/train/trainer.cpp).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/train/trainer.h"
#include "progress.h"

namespace nnc::cli {
namespace {

struct FinetuneOptions {
  std::string model;
  std::string output;  // logits output name ("" = the first)
  DataCliOptions data;
  int64_t epochs = 1;
  double lr = 0.01;
  std::string optimizer = "sgd";
  double momentum = 0.9;
  double weight_decay = 0;
  std::string schedule = "none";
  int64_t warmup_steps = 0;
  int64_t step_epochs = 0;
  double gamma = 0.1;
  double clip_grad_norm = 0;
  std::vector<std::string> freeze;
};

}  // namespace

Command addFinetuneCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<FinetuneOptions>();
  CLI::App* app = root.add_subcommand("finetune", "Train a classifier's float weights on labeled data (pruned zeros stay zero)");
  app->add_option("model", options->model, "The .onnx model")->required();
  app->add_option("-o,--output", global.output, "Output .onnx path")->required();
  addDataOptions(app, options->data, true);
  app->add_option("--epochs", options->epochs, "Passes over the data")->required()->check(CLI::PositiveNumber);
  app->add_option("--lr", options->lr, "Learning rate")->default_str("0.01")->check(CLI::PositiveNumber);
  app->add_option("--optimizer", options->optimizer, "sgd, adam or adamw")->default_str("sgd");
  app->add_option("--momentum", options->momentum, "SGD momentum")->default_str("0.9")->check(CLI::Range(0.0, 1.0));
  app->add_option("--weight-decay", options->weight_decay, "L2 (sgd, adam) or decoupled (adamw) weight decay")
      ->default_str("0")->check(CLI::NonNegativeNumber);
  app->add_option("--schedule", options->schedule, "Learning-rate schedule: none, step, cosine")->default_str("none");
  app->add_option("--step-epochs", options->step_epochs, "step schedule: multiply the rate by --gamma every N epochs (0: epochs/3)")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--gamma", options->gamma, "step schedule: decay factor")->default_str("0.1")->check(CLI::PositiveNumber);
  app->add_option("--warmup-steps", options->warmup_steps, "Linear warm-up of the rate over the first N steps")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--clip-grad-norm", options->clip_grad_norm, "Clip the global gradient norm to this (0: off)")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--freeze", options->freeze, "Keep parameters whose name matches this regular expression fixed (repeatable)");
  app->add_option("--logits", options->output, "Name of the output holding [N, classes] scores (default: the first)");
  return {app, [options, &global]() -> int {
            if (!global.force && std::filesystem::exists(global.output))
              return reportError(Status(ErrorCode::kOutputExists, "output '" + global.output + "' exists (use --force to replace it)"));
            auto optimizer = train::parseOptimizerKind(options->optimizer);
            if (!optimizer) return reportError(optimizer.status());
            auto schedule = train::parseScheduleKind(options->schedule);
            if (!schedule) return reportError(schedule.status());
            auto model = loadModel(options->model);
            if (!model) return reportError(model.status());
            auto session = Session::create(*model, {global.threads, nullptr});
            if (!session) return reportError(session.status().withContext(options->model));
            auto dataset = buildDataset(**session, options->data);
            if (!dataset) return reportError(dataset.status());
            if (!dataset->hasLabels())
              return reportError(invalidArgument("finetune needs labels: --labels PATH, or an image folder with class subfolders"));

            train::TrainOptions train;
            train.epochs = options->epochs;
            train.batch_size = options->data.batch_size;
            train.limit = options->data.limit;
            train.optimizer.kind = *optimizer;
            train.optimizer.momentum = options->momentum;
            train.optimizer.weight_decay = options->weight_decay;
            train.schedule.kind = *schedule;
            train.schedule.base_lr = options->lr;
            train.schedule.warmup_steps = options->warmup_steps;
            train.schedule.gamma = options->gamma;
            train.step_epochs = options->step_epochs;
            train.clip_grad_norm = options->clip_grad_norm;
            train.freeze = options->freeze;
            train.seed = global.seed;
            train.threads = global.threads;
            if (!options->output.empty()) {
              const auto& outs = (*session)->outputs();
              auto it = std::find_if(outs.begin(), outs.end(), [&](const Value* v) { return v->name() == options->output; });
              if (it == outs.end()) return reportError(invalidArgument("--logits: the model has no output '" + options->output + "'"));
              train.output_index = static_cast<size_t>(it - outs.begin());
            }
            session->reset();  // the trainer binds its own session to the model it changes

            const auto start = std::chrono::steady_clock::now();
            std::unique_ptr<Progress> progress;
            train::TrainCallbacks callbacks;
            callbacks.step = [&](int64_t epoch, int64_t done, int64_t total, double loss) {
              if (!progress) progress = std::make_unique<Progress>("epoch " + std::to_string(epoch), total, global.quiet);
              char extra[64];
              std::snprintf(extra, sizeof extra, "loss %.4f", loss);
              progress->update(done, extra);
            };
            callbacks.epoch = [&](const train::EpochStats& e) {
              if (progress) progress->finish();
              progress.reset();
              if (!global.quiet && !global.json)
                std::fprintf(stderr, "epoch %lld/%lld: loss %.4f, train top-1 %.2f%%, lr %.3g\n", static_cast<long long>(e.epoch),
                             static_cast<long long>(options->epochs), e.loss, 100 * e.accuracy, e.lr);
            };
            auto summary = train::finetune(*model, *dataset, train, callbacks);
            if (!summary) return reportError(summary.status().withContext(options->model));
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

            SaveOptions save;
            save.overwrite = global.force;
            auto saved = saveModel(*model, global.output, save);
            if (!saved) return reportError(saved.status());
            const train::EpochStats& first = summary->epochs.front();
            const train::EpochStats& last = summary->epochs.back();
            if (global.json) {
              nlohmann::ordered_json j;
              j["model"] = options->model;
              j["output"] = global.output;
              j["parameters"] = summary->parameters;
              j["masked"] = summary->masked;
              j["trained_tensors"] = summary->trained_tensors;
              j["steps"] = summary->steps;
              nlohmann::ordered_json epochs = nlohmann::ordered_json::array();
              for (const auto& e : summary->epochs)
                epochs.push_back({{"epoch", e.epoch}, {"loss", e.loss}, {"train_top1", e.accuracy}, {"lr", e.lr}});
              j["epochs"] = epochs;
              j["seconds"] = seconds;
              printJson(j);
            } else {
              std::printf("finetuned %s -> %s: %lld epochs, %lld steps, loss %.4f -> %.4f, %s parameters (%s kept at zero), %.2f s\n",
                          options->model.c_str(), global.output.c_str(), static_cast<long long>(summary->epochs.size()),
                          static_cast<long long>(summary->steps), first.loss, last.loss, formatCount(summary->parameters).c_str(),
                          formatCount(summary->masked).c_str(), seconds);
            }
            return kExitOk;
          }};
}

}  // namespace nnc::cli

// The `finetune` pass: supervised fine-tuning (train::finetune) inside a pipeline, on the
// context's labeled training data, typically after pruning and before quantization.
// Pipeline options: epochs=N (default 1), lr=R (0.001), optimizer=sgd|adam|adamw (adam),
// momentum=M (0.9), weight_decay=W (0), schedule=none|step|cosine (cosine), warmup_steps=N (0),
// batch_size=N (32), limit=N (training samples per epoch, 0: all), clip_grad_norm=C (0: off),
// freeze=REGEX[+REGEX...] (parameters kept fixed).
#include <sstream>

#include "nncompress/data/dataset.h"
#include "nncompress/passes/pass.h"
#include "nncompress/train/trainer.h"

namespace nnc {
namespace {

class FinetunePass : public Pass {
 public:
  std::string name() const override { return "finetune"; }

  static Expected<std::unique_ptr<Pass>> create(const PassSpec& spec) {
    auto pass = std::make_unique<FinetunePass>();
    train::TrainOptions& t = pass->options_;
    PassOptions o(spec);
    NNC_ASSIGN_OR_RETURN(t.epochs, o.integer("epochs", 1));
    NNC_ASSIGN_OR_RETURN(t.schedule.base_lr, o.number("lr", 0.001));
    NNC_ASSIGN_OR_RETURN(t.optimizer.kind, train::parseOptimizerKind(o.text("optimizer", "adam")));
    NNC_ASSIGN_OR_RETURN(t.optimizer.momentum, o.number("momentum", 0.9));
    NNC_ASSIGN_OR_RETURN(t.optimizer.weight_decay, o.number("weight_decay", 0));
    NNC_ASSIGN_OR_RETURN(t.schedule.kind, train::parseScheduleKind(o.text("schedule", "cosine")));
    NNC_ASSIGN_OR_RETURN(t.schedule.warmup_steps, o.integer("warmup_steps", 0));
    NNC_ASSIGN_OR_RETURN(t.batch_size, o.integer("batch_size", 32));
    NNC_ASSIGN_OR_RETURN(t.limit, o.integer("limit", 0));
    NNC_ASSIGN_OR_RETURN(t.clip_grad_norm, o.number("clip_grad_norm", 0));
    std::stringstream patterns(o.text("freeze", ""));
    for (std::string p; std::getline(patterns, p, '+');)
      if (!p.empty()) t.freeze.push_back(p);
    NNC_RETURN_IF_ERROR(o.checkNoUnknownOptions());
    if (t.epochs < 1) return invalidArgument("finetune: epochs must be at least 1");
    if (t.schedule.base_lr <= 0) return invalidArgument("finetune: lr must be positive");
    if (t.batch_size < 1) return invalidArgument("finetune: batch_size must be at least 1");
    if (t.limit < 0 || t.schedule.warmup_steps < 0 || t.clip_grad_norm < 0 || t.optimizer.weight_decay < 0)
      return invalidArgument("finetune: limit, warmup_steps, clip_grad_norm and weight_decay must not be negative");
    return std::unique_ptr<Pass>(std::move(pass));
  }

  Expected<PassResult> run(Model& model, PassContext& context) override {
    if (context.train_data == nullptr || !context.train_data->hasLabels())
      return invalidArgument("finetune needs labeled training data (pipeline: --train-data and --train-labels)");
    train::TrainOptions options = options_;
    options.seed = context.seed;
    options.threads = context.threads;
    train::TrainCallbacks callbacks;
    if (context.progress)
      callbacks.step = [&](int64_t epoch, int64_t done, int64_t total, double) {
        context.progress("finetune epoch " + std::to_string(epoch), done, total);
      };
    NNC_ASSIGN_OR_RETURN(train::TrainSummary summary, train::finetune(model, *context.train_data, options, callbacks));
    PassResult result;
    result.changed = true;
    const train::EpochStats& first = summary.epochs.front();
    const train::EpochStats& last = summary.epochs.back();
    char text[160];
    std::snprintf(text, sizeof text, "%lld epochs, %lld steps, train loss %.4f -> %.4f, %lld parameters trained",
                  static_cast<long long>(summary.epochs.size()), static_cast<long long>(summary.steps), first.loss, last.loss,
                  static_cast<long long>(summary.parameters));
    result.summary = text;
    result.stats["parameters"] = summary.parameters;
    result.stats["masked"] = summary.masked;
    result.stats["steps"] = summary.steps;
    nlohmann::ordered_json epochs = nlohmann::ordered_json::array();
    for (const auto& e : summary.epochs)
      epochs.push_back({{"epoch", e.epoch}, {"loss", e.loss}, {"train_top1", e.accuracy}, {"lr", e.lr}});
    result.stats["epochs"] = epochs;
    return result;
  }

 private:
  train::TrainOptions options_;
};

}  // namespace

Expected<std::unique_ptr<Pass>> createFinetunePass(const PassSpec& spec) { return FinetunePass::create(spec); }

}  // namespace nnc

// Accuracy-aware quantization options and step of `quantize` (see cli_quant_search.h).
#include "cli_quant_search.h"

#include <algorithm>
#include <cstdio>

#include "progress.h"

namespace nnc::cli {

void addAccuracyOptions(CLI::App* app, AccuracyCliOptions& options) {
  app->add_option("--max-accuracy-drop", options.max_accuracy_drop,
                  "Accuracy-aware: at most P points of top-1 accuracy lost on --data/--labels; the most sensitive "
                  "layers stay float until it holds")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--min-agreement", options.min_agreement,
                  "Accuracy-aware: top-1 agreement with the float model on --data of at least A percent (no labels)")
      ->check(CLI::Range(0.0, 100.0));
  app->add_option("--data", options.eval.data,
                  "Evaluation samples for --max-accuracy-drop/--min-agreement: [INPUT=]PATH (preprocessed like --calib-data)");
  app->add_option("--labels", options.eval.labels, "Labels of --data (for --max-accuracy-drop)");
  app->add_option("--eval-samples", options.eval_samples, "Use only the first N evaluation samples (0: all)")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--time-budget", options.time_budget,
                  "Seconds for the accuracy-aware search (0: no limit); the best model found so far is written")
      ->check(CLI::NonNegativeNumber);
}

Status checkAccuracyOptions(const AccuracyCliOptions& o) {
  const bool drop = o.max_accuracy_drop >= 0, agreement = o.min_agreement >= 0;
  if (drop && agreement) return invalidArgument("--max-accuracy-drop and --min-agreement are different budgets: choose one");
  if (!drop && !agreement) {
    if (!o.eval.data.empty() || !o.eval.labels.empty() || o.eval_samples > 0 || o.time_budget > 0)
      return invalidArgument("--data, --labels, --eval-samples and --time-budget apply to --max-accuracy-drop or --min-agreement only");
    return Status::ok();
  }
  if (o.eval.data.empty()) return invalidArgument("--max-accuracy-drop and --min-agreement need evaluation data: --data D");
  if (drop && o.eval.labels.empty()) return invalidArgument("--max-accuracy-drop needs --labels L (or use --min-agreement)");
  return Status::ok();
}

Expected<SensitivitySearchResult> runAccuracySearch(const Model& model, const ActivationRanges& ranges,
                                                    const QuantizeOptions& quantize, const AccuracyCliOptions& options,
                                                    const DataCliOptions& preprocess, const GlobalOptions& global) {
  DataCliOptions data = preprocess;
  data.data = options.eval.data;
  data.labels = options.eval.labels;
  data.data_flag = "--data";
  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {global.threads, nullptr}));
  NNC_ASSIGN_OR_RETURN(Dataset dataset, buildDataset(*session, data));
  SensitivitySearchOptions search;
  search.quantize = quantize;
  if (options.max_accuracy_drop >= 0) search.budget.max_accuracy_drop = options.max_accuracy_drop;
  else search.budget.min_agreement = options.min_agreement;
  search.time_budget_seconds = options.time_budget;
  search.max_samples = options.eval_samples;
  search.batch_size = data.batch_size;
  search.threads = global.threads;
  // One trial per quantizable node, plus float, all-quantized and the fallbacks: the count of
  // the first two phases is known, the fallbacks are shown as they come.
  const int64_t planned = 2 + static_cast<int64_t>(quantizableNodes(model).size());
  Progress progress("search", planned, global.quiet);
  auto result = searchQuantization(model, ranges, dataset, search, [&](const SearchTrial& trial, size_t done) {
    char extra[160];
    std::snprintf(extra, sizeof extra, "%s %s %.2f%%", trial.kind.c_str(), trial.node.c_str(), trial.score);
    progress.update(std::min<int64_t>(static_cast<int64_t>(done), planned), extra);
  });
  progress.finish();
  return result;
}

nlohmann::ordered_json searchToJson(const SensitivitySearchResult& r) {
  nlohmann::ordered_json j;
  j["metric"] = r.metric;
  j["samples"] = r.samples;
  j["float"] = r.float_score;
  j["all_quantized"] = r.all_quantized_score;
  j["result"] = r.best_score;
  j["budget_met"] = r.budget_met;
  j["timed_out"] = r.timed_out;
  j["kept_float"] = r.kept_float;
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const LayerSensitivity& l : r.layers) {
    nlohmann::ordered_json e;
    e["node"] = l.node;
    e["op_type"] = l.op_type;
    e["measured"] = l.measured;
    if (l.measured) {
      e["score"] = l.score;
      e["loss"] = l.loss;
    }
    layers.push_back(e);
  }
  j["layers"] = layers;
  j["trials"] = r.trials.size();
  j["search_seconds"] = r.seconds;
  return j;
}

void printSearchSummary(const SensitivitySearchResult& r) {
  const char* metric = r.metric == "top1_accuracy" ? "top-1 accuracy" : "top-1 agreement";
  std::printf("accuracy-aware search (%s on %lld samples, %zu trials, %.2f s%s):\n", metric,
              static_cast<long long>(r.samples), r.trials.size(), r.seconds, r.timed_out ? ", time budget reached" : "");
  std::printf("  float %.2f%%, all quantized %.2f%%, written %.2f%% (%s)\n", r.float_score, r.all_quantized_score,
              r.best_score, r.budget_met ? "meets the budget" : "does NOT meet the budget");
  for (const LayerSensitivity& l : r.layers) {
    const bool kept = std::find(r.kept_float.begin(), r.kept_float.end(), l.node) != r.kept_float.end();
    if (l.measured)
      std::printf("  %-40s %-18s alone %.2f%% (loss %+.2f)%s\n", l.node.c_str(), l.op_type.c_str(), l.score, l.loss,
                  kept ? "  -> float" : "");
    else
      std::printf("  %-40s %-18s not measured%s\n", l.node.c_str(), l.op_type.c_str(), kept ? "  -> float" : "");
  }
}

}  // namespace nnc::cli

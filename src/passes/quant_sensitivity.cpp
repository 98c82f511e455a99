// Accuracy-aware quantization search (see quant_sensitivity.h). Every trial is a fresh copy of
// the float model quantized with the same calibrated ranges and a different float_nodes list,
// then scored on the evaluation subset. The order of trials depends only on the model, the data
// and the options (ties broken by graph order), so the written model is deterministic; the time
// budget can only end the search earlier.
#include "nncompress/passes/quant_sensitivity.h"

#include <algorithm>
#include <chrono>
#include <spdlog/spdlog.h>

#include "nncompress/analysis/metrics.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"

namespace nnc {
namespace {

using Clock = std::chrono::steady_clock;

Expected<Model> cloneModel(const Model& model) {
  NNC_ASSIGN_OR_RETURN(std::string bytes, serializeModel(model));
  return parseModel(bytes.data(), bytes.size());
}

// Scores models on the evaluation subset: top-1 accuracy against the labels, or top-1
// agreement against the float model's predictions (recorded by the first call, on the float
// model).
class Scorer {
 public:
  Scorer(const Dataset& data, const SensitivitySearchOptions& options) : data_(data), options_(options) {
    samples_ = data.size();
    if (options.max_samples > 0) samples_ = std::min(samples_, options.max_samples);
  }
  int64_t samples() const { return samples_; }

  // Score in percent.
  Expected<double> score(const Model& model, bool is_float_reference) {
    NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {options_.threads, nullptr}));
    NNC_RETURN_IF_ERROR(data_.validate(*session));
    AccuracyCounter accuracy;
    int64_t agree = 0;
    for (int64_t begin = 0; begin < samples_; begin += options_.batch_size) {
      const int64_t n = std::min(options_.batch_size, samples_ - begin);
      NNC_ASSIGN_OR_RETURN(NamedTensors inputs, data_.batch(*session, begin, n));
      NNC_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, session->run(inputs));
      if (options_.output_index >= outputs.size())
        return invalidArgument("the model has no output #" + std::to_string(options_.output_index));
      const Tensor& logits = outputs[options_.output_index];
      if (options_.budget.max_accuracy_drop) {
        NNC_RETURN_IF_ERROR(accuracy.add(logits, *data_.labels(), begin));
      } else {
        const std::vector<int64_t> top1 = argmaxRows(logits);
        if (static_cast<int64_t>(top1.size()) != n)
          return invalidArgument("the logits output has " + std::to_string(top1.size()) + " rows for a batch of " +
                                 std::to_string(n));
        if (is_float_reference) reference_.insert(reference_.end(), top1.begin(), top1.end());
        for (int64_t i = 0; i < n; ++i) agree += top1[i] == reference_[begin + i] ? 1 : 0;
      }
    }
    if (options_.budget.max_accuracy_drop) return 100.0 * accuracy.top1Accuracy();
    return samples_ > 0 ? 100.0 * static_cast<double>(agree) / static_cast<double>(samples_) : 0.0;
  }

 private:
  const Dataset& data_;
  const SensitivitySearchOptions& options_;
  int64_t samples_ = 0;
  std::vector<int64_t> reference_;  // float top-1 per sample (agreement mode)
};

class Search {
 public:
  Search(const Model& float_model, const ActivationRanges& ranges, const Dataset& data,
         const SensitivitySearchOptions& options, const SearchProgress& progress)
      : float_model_(float_model), ranges_(ranges), options_(options), progress_(progress), scorer_(data, options) {}

  Expected<SensitivitySearchResult> run() {
    const auto start = Clock::now();
    deadline_ = options_.time_budget_seconds > 0
                    ? start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.time_budget_seconds))
                    : Clock::time_point::max();
    SensitivitySearchResult& r = result_;
    r.metric = options_.budget.max_accuracy_drop ? "top1_accuracy" : "top1_agreement";
    r.samples = scorer_.samples();
    for (const Node* n : quantizableNodes(float_model_)) {
      if (n->name.empty() || matchesAnyPattern(*n, options_.quantize.exclude) || matchesAnyPattern(*n, ranges_.float_nodes))
        continue;  // unnamed nodes cannot be listed in float_nodes; excluded ones stay float anyway
      r.layers.push_back({n->name, n->op_type});
    }

    NNC_ASSIGN_OR_RETURN(r.float_score, scorer_.score(float_model_, true));
    record({"float", "", r.float_score, true});

    // Everything quantized: the first candidate, and the answer when it meets the budget.
    std::vector<std::string> fallback;
    NNC_ASSIGN_OR_RETURN(Trial all, quantizeAndScore(fallback));
    r.all_quantized_score = all.score;
    offer(std::move(all), {}, "all-quantized", "");

    // Sensitivity: each node quantized alone.
    for (LayerSensitivity& layer : r.layers) {
      if (timeUp()) break;
      std::vector<std::string> others;
      for (const LayerSensitivity& l : r.layers)
        if (&l != &layer) others.push_back(l.node);
      NNC_ASSIGN_OR_RETURN(Trial alone, quantizeAndScore(others));
      layer.measured = true;
      layer.score = alone.score;
      layer.loss = r.float_score - alone.score;
      record({"sensitivity", layer.node, alone.score, meetsBudget(alone.score)});
    }

    // Greedy fallback, most sensitive first (unmeasured nodes last; graph order on ties).
    std::vector<size_t> order(r.layers.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const LayerSensitivity& x = r.layers[a];
      const LayerSensitivity& y = r.layers[b];
      if (x.measured != y.measured) return x.measured;
      return x.loss > y.loss;
    });
    for (size_t i : order) {
      if (r.budget_met || timeUp()) break;
      fallback.push_back(r.layers[i].node);
      NNC_ASSIGN_OR_RETURN(Trial trial, quantizeAndScore(fallback));
      offer(std::move(trial), fallback, "fallback", r.layers[i].node);
    }
    r.timed_out = !r.budget_met && timeUp();
    if (!have_best_) return Status(ErrorCode::kInternal, "accuracy-aware quantization produced no model");
    recordSearch();
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return std::move(result_);
  }

 private:
  struct Trial {
    Model model;
    PassResult result;
    double score = 0;
  };

  bool timeUp() const { return Clock::now() >= deadline_; }

  bool meetsBudget(double score) const {
    // A small tolerance: scores are ratios of counts, the budget a decimal number.
    constexpr double kEps = 1e-9;
    if (options_.budget.max_accuracy_drop) return result_.float_score - score <= *options_.budget.max_accuracy_drop + kEps;
    return score + kEps >= *options_.budget.min_agreement;
  }

  Expected<Trial> quantizeAndScore(const std::vector<std::string>& float_nodes) {
    Trial t;
    NNC_ASSIGN_OR_RETURN(t.model, cloneModel(float_model_));
    ActivationRanges ranges = ranges_;
    for (const std::string& name : float_nodes) ranges.float_nodes.push_back(globLiteral(name));
    NNC_ASSIGN_OR_RETURN(t.result, quantizeQdq(t.model, ranges, options_.quantize));
    recordInMetadata(t.model, ranges, options_.quantize);
    nlohmann::ordered_json calibration;
    calibration["method"] = ranges.method;
    calibration["samples"] = ranges.samples;
    calibration["digest"] = ranges.digest;
    t.result.stats["calibration"] = calibration;
    NNC_ASSIGN_OR_RETURN(t.score, scorer_.score(t.model, false));
    return t;
  }

  // Keeps the trial as the best model if it is the first to meet the budget, or if no model
  // met it yet and it scores higher than the best so far.
  void offer(Trial trial, const std::vector<std::string>& fallback, const std::string& kind, const std::string& node) {
    const bool meets = meetsBudget(trial.score);
    record({kind, node, trial.score, meets});
    if (result_.budget_met) return;
    if (meets || !have_best_ || trial.score > result_.best_score) {
      result_.model = std::move(trial.model);
      result_.quantize_result = std::move(trial.result);
      result_.best_score = trial.score;
      result_.kept_float = fallback;
      result_.budget_met = meets;
      have_best_ = true;
    }
  }

  // The budget and its outcome in the written model's metadata_props (no times: deterministic
  // for a given outcome).
  void recordSearch() {
    nlohmann::ordered_json j;
    j["metric"] = result_.metric;
    if (options_.budget.max_accuracy_drop) j["max_accuracy_drop"] = *options_.budget.max_accuracy_drop;
    else j["min_agreement"] = *options_.budget.min_agreement;
    j["samples"] = result_.samples;
    j["float"] = result_.float_score;
    j["result"] = result_.best_score;
    j["budget_met"] = result_.budget_met;
    j["kept_float"] = result_.kept_float;
    result_.model.setMetadata("nncompress.accuracy_search", j.dump());
  }

  void record(SearchTrial trial) {
    spdlog::debug("quantize search: {} {} -> {:.2f}%{}", trial.kind, trial.node, trial.score,
                  trial.meets_budget ? " (meets the budget)" : "");
    result_.trials.push_back(std::move(trial));
    if (progress_) progress_(result_.trials.back(), result_.trials.size());
  }

  const Model& float_model_;
  const ActivationRanges& ranges_;
  const SensitivitySearchOptions& options_;
  const SearchProgress& progress_;
  Scorer scorer_;
  Clock::time_point deadline_;
  SensitivitySearchResult result_;
  bool have_best_ = false;
};

}  // namespace

std::vector<const Node*> quantizableNodes(const Model& model) {
  std::vector<const Node*> nodes;
  for (const Node* n : model.graph->nodes())
    if (isQuantizableOp(*n)) nodes.push_back(n);
  return nodes;
}

std::string globLiteral(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

Expected<SensitivitySearchResult> searchQuantization(const Model& float_model, const ActivationRanges& ranges,
                                                     const Dataset& eval_data, const SensitivitySearchOptions& options,
                                                     const SearchProgress& progress) {
  const bool drop = options.budget.max_accuracy_drop.has_value();
  if (drop == options.budget.min_agreement.has_value())
    return invalidArgument("accuracy-aware quantization needs exactly one of max_accuracy_drop and min_agreement");
  if (drop && *options.budget.max_accuracy_drop < 0) return invalidArgument("the maximum accuracy drop must be >= 0 points");
  if (!drop && (*options.budget.min_agreement < 0 || *options.budget.min_agreement > 100))
    return invalidArgument("the minimum agreement must be a percentage in [0, 100]");
  if (drop && !eval_data.hasLabels()) return invalidArgument("a maximum accuracy drop needs labeled evaluation data");
  if (eval_data.size() == 0 || options.batch_size <= 0) return invalidArgument("accuracy-aware quantization needs evaluation samples");
  return Search(float_model, ranges, eval_data, options, progress).run();
}

}  // namespace nnc

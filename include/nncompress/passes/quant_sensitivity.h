// Accuracy-aware static int8 quantization (docs/quantization.md, "Accuracy budget"): measures the
// sensitivity of every quantizable node (that node quantized alone, the others float, scored on
// evaluation data), then quantizes everything and, while the budget fails, puts the most
// sensitive remaining node back to float (through ActivationRanges::float_nodes). The ranges
// are calibrated once by the caller and reused by every trial.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nncompress/analysis/calibration.h"
#include "nncompress/data/dataset.h"
#include "nncompress/passes/quantize.h"

namespace nnc {

struct AccuracyBudget {
  // Exactly one is set. Points (percent) of top-1 accuracy lost against the float model (needs
  // labels), or minimum top-1 agreement with the float model in percent (no labels needed).
  std::optional<double> max_accuracy_drop;
  std::optional<double> min_agreement;
};

struct SensitivitySearchOptions {
  QuantizeOptions quantize;
  AccuracyBudget budget;
  double time_budget_seconds = 0;  // 0: no limit; checked between trials
  int64_t max_samples = 0;         // evaluation samples used (0: all)
  int64_t batch_size = 32;
  size_t output_index = 0;         // the model output holding the logits
  int threads = 0;
};

struct LayerSensitivity {
  std::string node, op_type;
  bool measured = false;  // false: the time budget ran out before this node's trial
  double score = 0;       // accuracy or agreement (%) with this node alone quantized
  double loss = 0;        // float score - score, in points
};

// One model tried by the search, in order.
struct SearchTrial {
  std::string kind;  // "float", "all-quantized", "sensitivity", "fallback"
  std::string node;  // the node of a sensitivity or fallback trial
  double score = 0;
  bool meets_budget = false;
};

struct SensitivitySearchResult {
  Model model;                  // the best model found (meeting the budget when any did)
  PassResult quantize_result;   // the quantize stats of that model
  std::string metric;           // "top1_accuracy" or "top1_agreement"
  int64_t samples = 0;
  double float_score = 0;       // float model (100 for agreement)
  double all_quantized_score = 0;
  double best_score = 0;        // the written model's score
  bool budget_met = false;
  bool timed_out = false;
  std::vector<LayerSensitivity> layers;   // graph order
  std::vector<std::string> kept_float;    // nodes put back to float, in the order chosen
  std::vector<SearchTrial> trials;
  double seconds = 0;
};

// Called after each trial (for progress lines).
using SearchProgress = std::function<void(const SearchTrial& trial, size_t trials_done)>;

// Runs the search on `float_model` (prepared, e.g. canonicalized; left unchanged) with the
// calibrated `ranges`. The dataset feeds the model; with max_accuracy_drop it needs labels.
Expected<SensitivitySearchResult> searchQuantization(const Model& float_model, const ActivationRanges& ranges,
                                                     const Dataset& eval_data, const SensitivitySearchOptions& options,
                                                     const SearchProgress& progress = {});

// The nodes of the main graph the quantize pass would consider (compute and same-scale ops,
// e.g. Conv, Gemm, MatMul, Add, pools), in graph order.
std::vector<const Node*> quantizableNodes(const Model& model);

// A glob pattern (fnmatch) matching exactly `text` (the characters *?[\ escaped).
std::string globLiteral(const std::string& text);

}  // namespace nnc

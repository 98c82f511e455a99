// Supervised fine-tuning of a model in place: seeded shuffled mini-batches from a labeled
// Dataset, softmax cross-entropy on one output, the tape's gradients, an optimizer step with
// schedule and clipping. Weights that are exactly zero at the start (pruning masks) stay zero.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nncompress/data/dataset.h"
#include "nncompress/train/optimizer.h"

namespace nnc::train {

// A trainable parameter: a float initializer or the float `value` of a Constant node of the
// main graph.
struct Parameter {
  Value* value = nullptr;
  std::string name;
  int64_t size = 0;
  int64_t masked = 0;  // elements exactly zero at the start, kept at zero
};

// The float constants of the main graph, in stored order, minus those whose name matches a
// freeze pattern (ECMAScript regular expressions, searched anywhere in the name).
Expected<std::vector<Parameter>> trainableParameters(Model& model, const std::vector<std::string>& freeze_patterns);

// `count` sample indices in a seeded random order (Fisher-Yates with a 64-bit Mersenne
// Twister: the same on every platform).
std::vector<int64_t> shuffledIndices(int64_t count, uint64_t seed);

struct TrainOptions {
  int64_t epochs = 1;
  int64_t batch_size = 32;
  int64_t limit = 0;  // 0: every sample of the dataset
  OptimizerOptions optimizer;
  LrSchedule schedule;         // total_steps is filled in by finetune()
  int64_t step_epochs = 0;     // step schedule: decay every this many epochs (0: epochs / 3)
  double clip_grad_norm = 0;   // 0: no clipping
  std::vector<std::string> freeze;
  uint64_t seed = 0;
  size_t output_index = 0;     // which model output holds the logits
  int threads = 0;
};

struct EpochStats {
  int64_t epoch = 0;  // 1-based
  int64_t samples = 0;
  double loss = 0;     // mean training loss over the epoch
  double accuracy = 0; // training top-1 over the epoch (as the weights changed)
  double lr = 0;       // at the end of the epoch
};

struct TrainSummary {
  std::vector<EpochStats> epochs;
  int64_t parameters = 0;         // elements of the parameters the loss reaches (trained)
  int64_t masked = 0;             // of those, kept at zero
  int64_t trained_tensors = 0;
  int64_t steps = 0;
};

struct TrainCallbacks {
  std::function<void(int64_t epoch, int64_t done, int64_t total, double loss)> step;
  std::function<void(const EpochStats&)> epoch;
};

// Trains `model` in place on `dataset` (which must have labels).
Expected<TrainSummary> finetune(Model& model, const Dataset& dataset, const TrainOptions& options,
                                const TrainCallbacks& callbacks = {});

}  // namespace nnc::train

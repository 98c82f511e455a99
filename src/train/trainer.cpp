// The fine-tuning loop: parameters and masks, seeded shuffled batches, forward on the tape,
// cross-entropy, backward, clipping, optimizer step, weights written back into the model
// (in place, so the Session bound to the model sees them on the next run).
#include "nncompress/train/trainer.h"

#include <cmath>
#include <cstring>
#include <random>
#include <regex>

#include "nncompress/train/loss.h"
#include "nncompress/train/tape.h"

namespace nnc::train {

Expected<std::vector<Parameter>> trainableParameters(Model& model, const std::vector<std::string>& freeze_patterns) {
  std::vector<std::regex> freeze;
  for (const std::string& pattern : freeze_patterns) {
    try {
      freeze.emplace_back(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return invalidArgument("--freeze: '" + pattern + "' is not a valid regular expression: " + e.what());
    }
  }
  std::vector<Parameter> params;
  Graph& graph = *model.graph;
  std::vector<Value*> candidates(graph.initializers().begin(), graph.initializers().end());
  for (Node* node : graph.nodes())
    if (node->op_type == "Constant" && node->domain.empty() && node->attr("value") != nullptr && node->output(0))
      candidates.push_back(node->output(0));
  for (Value* v : candidates) {
    auto ref = constantRefOf(v);
    if (!ref || v->uses().empty()) continue;
    const Tensor& t = ref->tensor();
    if (t.dtype != DType::kFloat || t.elementCount() == 0) continue;
    bool frozen = false;
    for (const std::regex& re : freeze) frozen |= std::regex_search(v->name(), re);
    if (frozen) continue;
    Parameter p{v, v->name(), t.elementCount(), 0};
    const float* w = t.dataAs<float>();
    for (int64_t i = 0; i < p.size; ++i) p.masked += w[i] == 0.0f;
    params.push_back(p);
  }
  return params;
}

std::vector<int64_t> shuffledIndices(int64_t count, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = count - 1; i > 0; --i) {
    // Unbiased index in [0, i] by rejection (std::uniform_int_distribution differs across libraries).
    const uint64_t bound = static_cast<uint64_t>(i) + 1;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = rng();
    while (r >= limit);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(r % bound)]);
  }
  return order;
}

namespace {

// The samples `indices` of every input, stacked in that order.
Expected<NamedTensors> gatherBatch(const Session& session, const Dataset& dataset, const std::vector<int64_t>& indices) {
  std::vector<NamedTensors> rows;
  for (int64_t i : indices) {
    auto row = dataset.batch(session, i, 1);
    if (!row) return row.status();
    rows.push_back(std::move(*row));
  }
  NamedTensors batch;
  for (size_t k = 0; k < rows[0].size(); ++k) {
    const Tensor& first = rows[0][k].second;
    std::vector<int64_t> shape = first.shape;
    shape[0] = static_cast<int64_t>(rows.size());
    uint8_t* data = nullptr;
    Tensor stacked = Tensor::uninitialized(first.dtype, shape, &data);
    const size_t row_bytes = first.byteSize();
    for (size_t r = 0; r < rows.size(); ++r) {
      NNC_ENFORCE(rows[r][k].second.byteSize() == row_bytes, "samples of one input differ in size");
      std::memcpy(data + r * row_bytes, rows[r][k].second.bytes(), row_bytes);
    }
    batch.emplace_back(rows[0][k].first, std::move(stacked));
  }
  return batch;
}

// Writes float weights back into the model where the constant lives.
void storeWeights(Value* value, const std::vector<float>& weights) {
  auto ref = constantRefOf(value);
  NNC_ENFORCE(ref.has_value(), "parameter is no longer a constant: " + value->name());
  const Tensor& old = ref->tensor();
  uint8_t* data = nullptr;
  Tensor updated = Tensor::uninitialized(DType::kFloat, old.shape, &data);
  std::memcpy(data, weights.data(), weights.size() * sizeof(float));
  updated.name = old.name;
  updated.doc_string = old.doc_string;
  ref->replace(std::move(updated));
}

uint64_t epochSeed(uint64_t seed, int64_t epoch) {
  // splitmix64 of (seed, epoch): unrelated streams per epoch.
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(epoch + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

Expected<TrainSummary> finetune(Model& model, const Dataset& dataset, const TrainOptions& options,
                                const TrainCallbacks& callbacks) {
  if (options.epochs < 1) return invalidArgument("--epochs must be at least 1");
  if (options.batch_size < 1) return invalidArgument("--batch-size must be at least 1");
  if (!dataset.hasLabels()) return invalidArgument("training needs labels: --labels PATH");
  auto session = Session::create(model, {options.threads, nullptr});
  if (!session) return session.status();
  Status valid = dataset.validate(**session);
  if (!valid.isOk()) return valid;
  if (options.output_index >= (*session)->outputs().size()) return invalidArgument("the model has no such output");
  const Value* logits_value = (*session)->outputs()[options.output_index];

  auto params = trainableParameters(model, options.freeze);
  if (!params) return params.status();
  if (params->empty()) return invalidArgument("no trainable parameters (every float constant is frozen)");

  TrainSummary summary;
  std::vector<std::vector<float>> weights;
  std::vector<int64_t> sizes;
  std::vector<const Value*> param_values;
  std::vector<std::vector<size_t>> pruned;  // per parameter: elements zero at the start
  for (const Parameter& p : *params) {
    const Tensor& t = constantRefOf(p.value)->tensor();
    weights.emplace_back(t.dataAs<float>(), t.dataAs<float>() + p.size);
    pruned.emplace_back();
    for (size_t i = 0; i < weights.back().size(); ++i)
      if (weights.back()[i] == 0.0f) pruned.back().push_back(i);
    sizes.push_back(p.size);
    param_values.push_back(p.value);
  }
  // Constants the loss never reaches (BatchNorm statistics, Clip bounds) stay as they are and
  // are not counted as trained.
  std::vector<bool> reached(params->size(), false);

  const int64_t total = options.limit > 0 ? std::min(options.limit, dataset.size()) : dataset.size();
  if (total < 1) return invalidArgument("the dataset has no samples");
  const int64_t steps_per_epoch = (total + options.batch_size - 1) / options.batch_size;
  LrSchedule schedule = options.schedule;
  schedule.total_steps = steps_per_epoch * options.epochs;
  const int64_t step_epochs = options.step_epochs > 0 ? options.step_epochs : std::max<int64_t>(options.epochs / 3, 1);
  schedule.step_size = step_epochs * steps_per_epoch;
  Optimizer optimizer(options.optimizer, sizes);
  const std::vector<int64_t>& all_labels = *dataset.labels();

  int64_t step = 0;
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    const std::vector<int64_t> order = shuffledIndices(total, epochSeed(options.seed, epoch));
    EpochStats stats;
    stats.epoch = epoch + 1;
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t begin = 0; begin < total; begin += options.batch_size, ++step) {
      const std::vector<int64_t> indices(order.begin() + begin, order.begin() + std::min(begin + options.batch_size, total));
      auto inputs = gatherBatch(**session, dataset, indices);
      if (!inputs) return inputs.status();
      auto tape = Tape::record(**session, *inputs);
      if (!tape) return tape.status();
      std::vector<int64_t> labels;
      for (int64_t i : indices) labels.push_back(all_labels[static_cast<size_t>(i)]);
      auto loss = softmaxCrossEntropy(tape->outputs()[options.output_index], labels);
      if (!loss) return loss.status().withContext("output '" + logits_value->name() + "'");
      if (!std::isfinite(loss->loss)) return invalidArgument("the training loss diverged (not finite); lower --lr");
      auto grads = tape->backward({{logits_value, std::move(loss->grad)}}, param_values);
      if (!grads) return grads.status();

      // Pruned weights get no gradient, so clipping and momentum see only live weights.
      std::vector<std::vector<float>*> present;
      for (size_t p = 0; p < params->size(); ++p) {
        if (!(*grads)[p]) continue;
        reached[p] = true;
        for (size_t i : pruned[p]) (*grads)[p]->data[i] = 0.0f;
        present.push_back(&(*grads)[p]->data);
      }
      clipGradNorm(present, options.clip_grad_norm);
      const double lr = schedule.at(step);
      optimizer.beginStep();
      for (size_t p = 0; p < params->size(); ++p) {
        if (!(*grads)[p]) continue;
        optimizer.update(p, weights[p].data(), (*grads)[p]->data.data(), lr);
        for (size_t i : pruned[p]) weights[p][i] = 0.0f;  // zeros stay zero (pruning masks)
        storeWeights((*params)[p].value, weights[p]);
      }
      loss_sum += loss->loss * static_cast<double>(indices.size());
      correct += loss->correct;
      stats.lr = lr;
      if (callbacks.step) callbacks.step(epoch + 1, begin + static_cast<int64_t>(indices.size()), total, loss->loss);
    }
    stats.samples = total;
    stats.loss = loss_sum / static_cast<double>(total);
    stats.accuracy = static_cast<double>(correct) / static_cast<double>(total);
    summary.epochs.push_back(stats);
    if (callbacks.epoch) callbacks.epoch(stats);
  }
  summary.steps = step;
  for (size_t p = 0; p < params->size(); ++p) {
    if (!reached[p]) continue;
    summary.parameters += (*params)[p].size;
    summary.masked += (*params)[p].masked;
    ++summary.trained_tensors;
  }
  return summary;
}

}  // namespace nnc::train

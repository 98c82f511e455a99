// Measurements of one pipeline stage (see stage_metrics.h). Evaluation reads the data in the
// same batches as `nncompress eval`, so accuracies match it exactly.
#include "nncompress/pipeline/stage_metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "nncompress/analysis/metrics.h"
#include "nncompress/analysis/model_summary.h"
#include "nncompress/support/file_io.h"

namespace nnc {
namespace {

int64_t sampleCount(const EvalSettings& settings) {
  int64_t total = settings.data->size();
  return settings.limit > 0 ? std::min(total, settings.limit) : total;
}

// Median wall time of batch-1 runs on the first sample, after one warm-up run.
Expected<double> medianLatencyMs(Session& session, const EvalSettings& settings) {
  NNC_ASSIGN_OR_RETURN(NamedTensors inputs, settings.data->batch(session, 0, 1));
  NNC_RETURN_IF_ERROR(session.run(inputs).status());
  std::vector<double> times;
  for (int i = 0; i < std::max(1, settings.latency_runs); ++i) {
    const auto start = std::chrono::steady_clock::now();
    NNC_RETURN_IF_ERROR(session.run(inputs).status());
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  return n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
}

}  // namespace

Expected<ReferenceOutputs> computeReference(const Model& model, const EvalSettings& settings) {
  NNC_ENFORCE(settings.data != nullptr, "computeReference needs eval data");
  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {settings.threads, nullptr}));
  NNC_RETURN_IF_ERROR(settings.data->validate(*session));
  ReferenceOutputs reference;
  const int64_t total = sampleCount(settings);
  for (int64_t begin = 0; begin < total; begin += settings.batch_size) {
    NNC_ASSIGN_OR_RETURN(NamedTensors inputs, settings.data->batch(*session, begin, std::min(settings.batch_size, total - begin)));
    NNC_ASSIGN_OR_RETURN(auto outputs, session->run(inputs));
    reference.batches.push_back(std::move(outputs[0]));
  }
  return reference;
}

Expected<StageMetrics> measureStage(Model& model, const std::string& path, const ReferenceOutputs& reference,
                                    const EvalSettings& settings) {
  NNC_ENFORCE(settings.data != nullptr, "measureStage needs eval data");
  StageMetrics metrics;
  NNC_ASSIGN_OR_RETURN(metrics.bytes, fileSize(path));
  ModelSummary summary = summarizeModel(model);
  metrics.params = summary.params;
  metrics.sparsity = summary.params ? static_cast<double>(summary.zero_params) / static_cast<double>(summary.params) : 0;
  for (const LayerSummary& layer : summary.layers) metrics.layers.push_back({layer.name, layer.op, layer.params, layer.sparsity});

  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {settings.threads, nullptr}));
  const int64_t total = sampleCount(settings);
  AccuracyCounter accuracy;
  DiffStats diff;
  int64_t agree = 0, rows = 0;
  size_t batch_index = 0;
  for (int64_t begin = 0; begin < total; begin += settings.batch_size, ++batch_index) {
    NNC_ASSIGN_OR_RETURN(NamedTensors inputs, settings.data->batch(*session, begin, std::min(settings.batch_size, total - begin)));
    NNC_ASSIGN_OR_RETURN(auto outputs, session->run(inputs));
    if (settings.data->hasLabels()) NNC_RETURN_IF_ERROR(accuracy.add(outputs[0], *settings.data->labels(), begin));
    NNC_ENFORCE(batch_index < reference.batches.size(), "reference outputs cover every eval batch");
    const Tensor& ref = reference.batches[batch_index];
    NNC_RETURN_IF_ERROR(diff.add(outputs[0], ref).withContext("first output vs the original model"));
    if (ref.shape.size() == 2) {
      auto a = argmaxRows(ref), b = argmaxRows(outputs[0]);
      for (size_t r = 0; r < a.size(); ++r) agree += a[r] == b[r];
      rows += static_cast<int64_t>(a.size());
    }
  }
  metrics.samples = total;
  if (settings.data->hasLabels()) metrics.accuracy = accuracy.top1Accuracy();
  if (rows) metrics.agreement = static_cast<double>(agree) / static_cast<double>(rows);
  if (std::isfinite(diff.sqnrDb())) metrics.sqnr_db = diff.sqnrDb();
  NNC_ASSIGN_OR_RETURN(metrics.latency_ms, medianLatencyMs(*session, settings));
  return metrics;
}

}  // namespace nnc

// `nncompress compare A.onnx B.onnx --data D`: how far B's outputs are from A's (A is the
// reference): max abs/rel error, cosine similarity, SQNR, top-1 agreement along the last axis of [N, C] or [N, T, C] outputs; with --per-layer,
// intermediate values present in both models (same name) ranked by SQNR.
#include <cmath>
#include <cstdio>
#include <map>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/analysis/metrics.h"
#include "nncompress/onnx/import.h"
#include "progress.h"

namespace nnc::cli {
namespace {

struct CompareOptions {
  std::string reference, tested;
  DataCliOptions data;
  bool per_layer = false;
  int top = 20;
};

std::string db(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", v);
  return text;
}

nlohmann::ordered_json statsJson(const std::string& name, const DiffStats& s) {
  return {{"name", name},          {"elements", s.elements}, {"max_abs", s.max_abs},     {"max_rel", s.max_rel},
          {"mean_abs", s.meanAbs()}, {"cosine", s.cosine()},   {"sqnr_db", std::isinf(s.sqnrDb()) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s.sqnrDb())},
          {"nan_mismatch", s.nan_mismatch}};
}

}  // namespace

Command addCompareCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<CompareOptions>();
  CLI::App* app = root.add_subcommand("compare", "Compare a model's outputs with a reference model's on the same data");
  app->add_option("reference", options->reference, "The reference .onnx model (e.g. the float original)")->required();
  app->add_option("model", options->tested, "The .onnx model to compare with it")->required();
  addDataOptions(app, options->data, false);
  app->add_flag("--per-layer", options->per_layer, "Also compare intermediate values with the same name in both models");
  app->add_option("--top", options->top, "Layers to list with --per-layer (worst SQNR first)");
  return {app, [options, &global]() -> int {
            auto ref_model = loadModel(options->reference);
            if (!ref_model) return reportError(ref_model.status());
            auto test_model = loadModel(options->tested);
            if (!test_model) return reportError(test_model.status());
            auto ref = Session::create(*ref_model, {global.threads, nullptr});
            if (!ref) return reportError(ref.status().withContext(options->reference));
            auto test = Session::create(*test_model, {global.threads, nullptr});
            if (!test) return reportError(test.status().withContext(options->tested));
            if ((*ref)->outputs().size() != (*test)->outputs().size())
              return reportError(invalidArgument("the models have different numbers of outputs"));
            auto dataset = buildDataset(**ref, options->data);
            if (!dataset) return reportError(dataset.status());
            int64_t total = dataset->size();
            if (options->data.limit > 0) total = std::min(total, options->data.limit);

            std::vector<DiffStats> outputs((*ref)->outputs().size());
            std::map<std::string, DiffStats> layers;
            int64_t agree = 0, rows = 0;
            bool per_position = false;
            Progress progress("compare", total, global.quiet);
            for (int64_t begin = 0; begin < total; begin += options->data.batch_size) {
              const int64_t n = std::min(options->data.batch_size, total - begin);
              auto ref_inputs = dataset->batch(**ref, begin, n);
              if (!ref_inputs) return reportError(ref_inputs.status());
              auto test_inputs = dataset->batch(**test, begin, n);
              if (!test_inputs) return reportError(test_inputs.status().withContext(options->tested));
              // Reference intermediates are kept for one batch, then compared as B computes them.
              std::map<std::string, Tensor> ref_values;
              ValueObserver keep = [&](const Value& v, const Tensor& t) { ref_values[v.name()] = t; };
              auto ref_out = (*ref)->run(*ref_inputs, options->per_layer ? &keep : nullptr);
              if (!ref_out) return reportError(ref_out.status().withContext(options->reference));
              ValueObserver match = [&](const Value& v, const Tensor& t) {
                auto it = ref_values.find(v.name());
                if (it == ref_values.end() || it->second.shape != t.shape || isFloatingPoint(t.dtype) != isFloatingPoint(it->second.dtype)) return;
                (void)layers[v.name()].add(t, it->second);
                ref_values.erase(it);
              };
              auto test_out = (*test)->run(*test_inputs, options->per_layer ? &match : nullptr);
              if (!test_out) return reportError(test_out.status().withContext(options->tested));
              for (size_t i = 0; i < outputs.size(); ++i) {
                Status s = outputs[i].add((*test_out)[i], (*ref_out)[i]);
                if (!s.isOk()) return reportError(s.withContext("output '" + (*ref)->outputs()[i]->name() + "'"));
              }
              // Top-1 agreement over the last axis: per sample for [N, C] logits, per sample and
              // position for [N, T, C] sequences (CTC recognizers, token classifiers).
              const Tensor& first = (*ref_out)[0];
              const size_t rank = first.shape.size();
              if ((rank == 2 || rank == 3) && isFloatingPoint(first.dtype) && first.shape == (*test_out)[0].shape) {
                Tensor ref_rows = first, test_rows = (*test_out)[0];
                if (rank == 3) ref_rows.shape = test_rows.shape = {first.shape[0] * first.shape[1], first.shape[2]};
                per_position = rank == 3;
                auto a = argmaxRows(ref_rows), b = argmaxRows(test_rows);
                for (size_t r = 0; r < a.size(); ++r) agree += a[r] == b[r];
                rows += static_cast<int64_t>(a.size());
              }
              progress.update(begin + n);
            }
            progress.finish();
            std::vector<std::pair<std::string, DiffStats>> ranked(layers.begin(), layers.end());
            std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.second.sqnrDb() < y.second.sqnrDb(); });
            if (global.json) {
              nlohmann::ordered_json j;
              j["reference"] = options->reference;
              j["model"] = options->tested;
              j["samples"] = total;
              auto& outs = j["outputs"] = nlohmann::ordered_json::array();
              for (size_t i = 0; i < outputs.size(); ++i) outs.push_back(statsJson((*ref)->outputs()[i]->name(), outputs[i]));
              j["top1_agreement"] = rows ? nlohmann::ordered_json(static_cast<double>(agree) / static_cast<double>(rows)) : nlohmann::ordered_json(nullptr);
              if (options->per_layer) {
                auto& ls = j["layers"] = nlohmann::ordered_json::array();
                for (const auto& [name, s] : ranked) ls.push_back(statsJson(name, s));
              }
              printJson(j);
              return kExitOk;
            }
            std::printf("%-28s %12s %12s %10s %10s\n", "output", "max abs", "max rel", "cosine", "SQNR dB");
            for (size_t i = 0; i < outputs.size(); ++i)
              std::printf("%-28s %12.4g %12.4g %10.6f %10s\n", (*ref)->outputs()[i]->name().substr(0, 28).c_str(), outputs[i].max_abs,
                          outputs[i].max_rel, outputs[i].cosine(), db(outputs[i].sqnrDb()).c_str());
            if (rows) std::printf("top-1 agreement: %.2f%% (%lld/%lld %s)\n", 100.0 * static_cast<double>(agree) / static_cast<double>(rows),
                                  static_cast<long long>(agree), static_cast<long long>(rows),
                                  per_position ? "positions" : "samples");
            if (options->per_layer) {
              std::printf("\n%zu values compared by name; worst first:\n%-40s %12s %10s %10s\n", ranked.size(), "value", "max abs", "cosine", "SQNR dB");
              int shown = 0;
              for (const auto& [name, s] : ranked) {
                if (shown++ >= options->top) break;
                std::printf("%-40s %12.4g %10.6f %10s\n", name.substr(0, 40).c_str(), s.max_abs, s.cosine(), db(s.sqnrDb()).c_str());
              }
            }
            return kExitOk;
          }};
}

}  // namespace nnc::cli

// `nncompress bench MODEL`: latency percentiles per batch size, throughput, peak RSS, and a
// per-op time profile (--profile). Inputs are seeded random data of the model's input shapes.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/data/random_inputs.h"
#include "nncompress/onnx/import.h"

namespace nnc::cli {
namespace {

struct BenchOptions {
  std::string model;
  std::vector<int64_t> batch_sizes{1};
  int warmup = 3;
  int runs = 20;
  double min_seconds = 1.0;
  GeneratedInputOptions generated;
  bool profile = false;
};

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

uint64_t peakRssBytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace

Command addBenchCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* app = root.add_subcommand("bench", "Measure latency, throughput and peak memory of a model in nncompress's runtime");
  app->add_option("model", options->model, "The .onnx model")->required();
  app->add_option("--batch-sizes", options->batch_sizes, "Batch sizes to measure (comma-separated)")->delimiter(',');
  app->add_option("--warmup", options->warmup, "Untimed runs before measuring")->check(CLI::NonNegativeNumber);
  app->add_option("--runs", options->runs, "Timed runs at least")->check(CLI::PositiveNumber);
  app->add_option("--min-seconds", options->min_seconds, "Keep running until this much time is measured");
  addGeneratedInputOptions(app, options->generated);
  app->add_flag("--profile", options->profile, "Time per op type");
  return {app, [options, &global]() -> int {
            auto model = loadModel(options->model);
            if (!model) return reportError(model.status());
            auto session = Session::create(*model, {global.threads, nullptr});
            if (!session) return reportError(session.status().withContext(options->model));
            RandomInputOptions generated;
            generated.seed = global.seed;
            Status applied = applyGeneratedInputOptions(options->generated, generated);
            if (!applied.isOk()) return reportError(applied);
            nlohmann::ordered_json results = nlohmann::ordered_json::array();
            if (!global.json)
              std::printf("%-8s %10s %10s %10s %14s\n", "batch", "p50 ms", "p90 ms", "p99 ms", "samples/s");
            Profile profile;
            for (int64_t requested : options->batch_sizes) {
              RandomInputOptions random = generated;
              random.batch = requested;
              auto inputs = randomInputs(**session, random);
              if (!inputs) return reportError(inputs.status());
              // A model with a fixed first dimension runs at that batch whatever was asked.
              int64_t batch = requested;
              if (!inputs->empty() && !inputs->front().second.shape.empty()) batch = inputs->front().second.shape[0];
              if (batch != requested)
                spdlog::warn("the model's batch dimension is fixed at {}: measuring batch {} instead of {}", batch, batch, requested);
              for (int i = 0; i < options->warmup; ++i) {
                auto out = (*session)->run(*inputs);
                if (!out) return reportError(out.status().withContext(options->model));
              }
              std::vector<double> ms;
              double measured = 0;
              while (static_cast<int>(ms.size()) < options->runs || measured < options->min_seconds) {
                const auto start = std::chrono::steady_clock::now();
                auto out = (*session)->run(*inputs, nullptr, options->profile ? &profile : nullptr);
                const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                if (!out) return reportError(out.status().withContext(options->model));
                ms.push_back(seconds * 1000);
                measured += seconds;
              }
              const double p50 = percentile(ms, 50), p90 = percentile(ms, 90), p99 = percentile(ms, 99);
              const double throughput = static_cast<double>(batch) * 1000.0 / p50;
              if (global.json)
                results.push_back({{"batch", batch}, {"runs", ms.size()}, {"p50_ms", p50}, {"p90_ms", p90}, {"p99_ms", p99},
                                   {"samples_per_s", throughput}});
              else
                std::printf("%-8lld %10.3f %10.3f %10.3f %14.1f\n", static_cast<long long>(batch), p50, p90, p99, throughput);
            }
            const uint64_t rss = peakRssBytes();
            std::vector<std::pair<std::string, Profile::Entry>> ops(profile.by_op.begin(), profile.by_op.end());
            std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
            double total = 0;
            for (const auto& [op, e] : ops) total += e.seconds;
            if (global.json) {
              nlohmann::ordered_json j;
              j["model"] = options->model;
              j["threads"] = global.threads;
              j["results"] = results;
              j["peak_rss_bytes"] = rss;
              if (options->profile) {
                auto& p = j["profile"] = nlohmann::ordered_json::array();
                for (const auto& [op, e] : ops) p.push_back({{"op", op}, {"seconds", e.seconds}, {"calls", e.calls}});
              }
              printJson(j);
              return kExitOk;
            }
            std::printf("peak RSS %s\n", formatBytes(rss).c_str());
            if (options->profile) {
              std::printf("\n%-28s %10s %8s %8s\n", "op", "ms/call", "calls", "share");
              for (const auto& [op, e] : ops)
                std::printf("%-28s %10.4f %8lld %7.1f%%\n", op.c_str(), e.seconds * 1000 / static_cast<double>(e.calls),
                            static_cast<long long>(e.calls), total > 0 ? 100 * e.seconds / total : 0.0);
            }
            return kExitOk;
          }};
}

}  // namespace nnc::cli

// `nncompress canonicalize MODEL -o OUT`: the graph-preparation pass on its own (Identity and
// Dropout removal, constant folding, BatchNorm folding, dead code), then a check that the new
// model computes the same outputs as the old one on seeded random inputs.
#include <chrono>
#include <cmath>
#include <cstdio>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/analysis/metrics.h"
#include "nncompress/data/random_inputs.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/pass.h"

namespace nnc::cli {
namespace {

struct CanonicalizeOptions {
  std::string model;
  bool verify = true;
  GeneratedInputOptions generated;
};

// Largest |a - b| over all outputs of two models on the same random inputs.
Expected<double> maxOutputDifference(const Model& before, const Model& after, const RandomInputOptions& random, int threads) {
  NNC_ASSIGN_OR_RETURN(auto a, Session::create(before, {threads, nullptr}));
  NNC_ASSIGN_OR_RETURN(auto b, Session::create(after, {threads, nullptr}));
  NNC_ASSIGN_OR_RETURN(NamedTensors inputs, randomInputs(*a, random));
  NNC_ASSIGN_OR_RETURN(auto out_a, a->run(inputs));
  NNC_ASSIGN_OR_RETURN(auto out_b, b->run(inputs));
  double worst = 0;
  for (size_t i = 0; i < out_a.size(); ++i) {
    DiffStats stats;
    NNC_RETURN_IF_ERROR(stats.add(out_b[i], out_a[i]));
    worst = std::max(worst, stats.nan_mismatch ? INFINITY : stats.max_abs);
  }
  return worst;
}

}  // namespace

Command addCanonicalizeCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<CanonicalizeOptions>();
  CLI::App* app = root.add_subcommand("canonicalize",
                                      "Simplify a model: remove Identity/Dropout, fold constants and BatchNorm, drop dead nodes");
  app->add_option("model", options->model, "The input .onnx model")->required();
  app->add_option("-o,--output", global.output, "Output .onnx path")->required();
  app->add_flag("!--no-verify", options->verify, "Skip running both models to compare their outputs");
  addGeneratedInputOptions(app, options->generated);
  return {app, [options, &global]() -> int {
            auto start = std::chrono::steady_clock::now();
            auto model = loadModel(options->model);
            if (!model) return reportError(model.status());
            auto original = loadModel(options->model);  // kept unchanged for the comparison
            if (!original) return reportError(original.status());
            auto pass = createPass({"canonicalize", {}});
            if (!pass) return reportError(pass.status());
            PassContext context;
            context.seed = global.seed;
            context.threads = global.threads;
            auto result = (*pass)->run(*model, context);
            if (!result) return reportError(result.status().withContext(options->model));
            nlohmann::ordered_json j;
            j["input"] = options->model;
            j["output"] = global.output;
            j["stats"] = result->stats;
            std::string verified = "not verified (--no-verify)";
            if (options->verify) {
              RandomInputOptions random;
              random.seed = global.seed;
              Status applied = applyGeneratedInputOptions(options->generated, random);
              if (!applied.isOk()) return reportError(applied);
              auto diff = maxOutputDifference(*original, *model, random, global.threads);
              if (!diff) return reportError(diff.status().withContext("verifying (use --no-verify to skip)"));
              j["max_abs_output_difference"] = *diff;
              char text[96];
              std::snprintf(text, sizeof text, "outputs differ by at most %.3g on random inputs", *diff);
              verified = text;
            }
            SaveOptions save;
            save.overwrite = global.force;
            auto saved = saveModel(*model, global.output, save);
            if (!saved) return reportError(saved.status());
            double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            j["seconds"] = seconds;
            if (global.json) printJson(j);
            else if (!global.quiet)
              std::printf("canonicalized %s -> %s: %s; %s (%.2f s)\n", options->model.c_str(), global.output.c_str(),
                          result->summary.c_str(), verified.c_str(), seconds);
            return kExitOk;
          }};
}

}  // namespace nnc::cli

// `nncompress recommend MODEL [--target T] [-o recipe.yaml]`: what to do with this model on this
// hardware, as a recipe that `nncompress pipeline --recipe` runs as is (library:
// src/pipeline/recommend.cpp). Without --target the host's CPU decides.
#include <cstdio>
#include <filesystem>

#include "cli.h"
#include "nncompress/onnx/import.h"
#include "nncompress/pipeline/recommend.h"
#include "nncompress/support/file_io.h"

namespace nnc::cli {
namespace {

struct RecommendOptions {
  std::string model;
  std::string target;
};

// The machine we run on: AVX-512 VNNI or AVX2 on x86, arm64 elsewhere on aarch64.
Target hostTarget() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vnni")) return Target::kCpuAvx512;
  return Target::kCpuAvx2;
#elif defined(__aarch64__)
  return Target::kArm64;
#else
  return Target::kCpuAvx2;
#endif
}

}  // namespace

Command addRecommendCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<RecommendOptions>();
  CLI::App* app = root.add_subcommand("recommend", "Propose a compression recipe for a model and a target, with reasons");
  app->add_option("model", options->model, "The .onnx model")->required();
  app->add_option("--target", options->target, "cpu-avx512, cpu-avx2, arm64 or gpu (default: this machine's CPU)");
  app->add_option("-o,--output", global.output, "Write the recipe (YAML) here, for `pipeline --recipe`");
  return {app, [options, &global]() -> int {
            Target target = hostTarget();
            const bool detected = options->target.empty();
            if (!detected) {
              auto parsed = parseTarget(options->target);
              if (!parsed) return reportError(parsed.status());
              target = *parsed;
            }
            if (!global.output.empty() && !global.force && std::filesystem::exists(global.output))
              return reportError(Status(ErrorCode::kOutputExists, "output '" + global.output + "' exists (use --force to replace it)"));
            auto model = loadModel(options->model);
            if (!model) return reportError(model.status());
            const Recommendation r = recommend(*model, target);
            const std::string yaml = recipeYaml(r, std::filesystem::path(options->model).filename().string());
            if (!global.output.empty()) {
              auto writer = AtomicFileWriter::create(global.output, global.force);
              if (!writer) return reportError(writer.status());
              Status s = (*writer)->write(yaml.data(), yaml.size());
              if (s.isOk()) s = (*writer)->commit();
              if (!s.isOk()) return reportError(s);
            }
            const ModelTraits& t = r.traits;
            if (global.json) {
              nlohmann::ordered_json j;
              j["model"] = options->model;
              j["target"] = targetName(target);
              j["target_detected"] = detected;
              j["traits"] = {{"params", t.params},          {"sparsity", t.sparsity},   {"conv", t.conv},
                             {"depthwise", t.depthwise},    {"linear", t.linear},       {"attention_matmuls", t.attention_matmuls},
                             {"recurrent", t.recurrent},    {"norms", t.norms},         {"batchnorms", t.batchnorms},
                             {"quantized", t.quantized},    {"half", t.half},           {"linear_weight_share", t.linear_weight_share}};
              auto& steps = j["steps"] = nlohmann::ordered_json::array();
              for (const RecipeStep& s : r.steps)
                steps.push_back({{"pass", formatPipeline({s.pass})}, {"reason", s.reason}});
              j["notes"] = r.notes;
              j["needs_calibration_data"] = r.needs_calibration_data;
              j["needs_training_data"] = r.needs_training_data;
              j["recipe"] = yaml;
              j["output"] = global.output.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(global.output);
              printJson(j);
              return kExitOk;
            }
            if (global.quiet) return kExitOk;
            std::printf("model:  %s: %lld parameters, %lld conv (%lld depthwise), %lld linear, %lld attention matmuls, %lld recurrent%s\n",
                        options->model.c_str(), static_cast<long long>(t.params), static_cast<long long>(t.conv),
                        static_cast<long long>(t.depthwise), static_cast<long long>(t.linear), static_cast<long long>(t.attention_matmuls),
                        static_cast<long long>(t.recurrent), t.quantized ? ", already quantized" : "");
            std::printf("target: %s%s\n\n", targetName(target).c_str(), detected ? " (this machine)" : "");
            for (size_t i = 0; i < r.steps.size(); ++i)
              std::printf("%zu. %s\n   %s\n", i + 1, formatPipeline({r.steps[i].pass}).c_str(), r.steps[i].reason.c_str());
            for (const std::string& note : r.notes) std::printf("note: %s\n", note.c_str());
            std::vector<PassSpec> all;
            for (const RecipeStep& s : r.steps) all.push_back(s.pass);
            std::printf("\npipeline: %s\n", formatPipeline(all).c_str());
            if (!global.output.empty()) std::printf("wrote %s (run it with nncompress pipeline --recipe)\n", global.output.c_str());
            return kExitOk;
          }};
}

}  // namespace nnc::cli

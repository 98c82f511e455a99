// `nncompress convert IN -o OUT`: re-serializes a model through the IR, moving weights into or
// out of external data; with --fp16 / --bf16 it runs the convert-float pass first.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/pass.h"
#include "nncompress/support/file_io.h"

namespace nnc::cli {
namespace {

struct ConvertOptions {
  std::string model;
  std::string external_data;  // "" (not given), or a threshold in bytes
  bool external_given = false;
  bool fp16 = false, bf16 = false;
  bool keep_io_types = true;
  std::string block;  // extra op types kept in float32, comma separated
  DataCliOptions data;  // --fp16 with --data: activation ranges keep overflowing nodes float32
};

// The convert-float pass spec for the float flags, or nothing when no float conversion is asked.
std::optional<PassSpec> floatSpec(const ConvertOptions& o) {
  if (!o.fp16 && !o.bf16) return std::nullopt;
  PassSpec spec{"convert-float", {{"type", o.fp16 ? "fp16" : "bf16"}, {"keep_io_types", o.keep_io_types ? "true" : "false"}}};
  if (!o.block.empty()) {
    std::string ops = o.block;
    for (char& c : ops)
      if (c == ',') c = '+';
    spec.options["block"] = ops;
  }
  return spec;
}

}  // namespace

Command addConvertCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<ConvertOptions>();
  CLI::App* app = root.add_subcommand("convert", "Re-write a model through nncompress's IR (to or from external data, to float16 or bfloat16)");
  app->add_option("model", options->model, "The input .onnx model")->required();
  app->add_option("-o,--output", global.output, "Output .onnx path")->required();
  app->add_option("--external-data", options->external_data,
                  "Store tensors of at least THRESHOLD bytes (default 1024) in <output>.data")
      ->expected(0, 1)
      ->type_name("[THRESHOLD]");
  auto* fp16 = app->add_flag("--fp16", options->fp16, "Convert float32 weights and compute to float16 (docs/float_conversion.md)");
  auto* bf16 = app->add_flag("--bf16", options->bf16, "Store float32 weights as bfloat16 (compute stays float32, see docs)");
  fp16->excludes(bf16);
  app->add_flag("--keep-io-types,!--no-keep-io-types", options->keep_io_types,
                "Graph inputs and outputs keep float32 (default on); --no-keep-io-types makes them 16-bit");
  app->add_option("--block", options->block, "Extra op types kept in float32 (comma separated), besides the default block-list");
  app->add_option("--data", options->data.data,
                  "With --fp16: samples [INPUT=]PATH (see docs/data.md); nodes whose activations reach float16's range stay float32");
  app->add_option("--scale", options->data.scale, "With --data: multiply samples by this (e.g. 1/255)")->default_str("1");
  app->add_option("--mean", options->data.mean, "With --data: per-channel mean subtracted after --scale")->delimiter(',');
  app->add_option("--std", options->data.std, "With --data: per-channel std divided after --mean")->delimiter(',');
  app->add_option("--limit", options->data.limit, "With --data: use only the first N samples (0: all)")->check(CLI::NonNegativeNumber);
  return {app, [options, app, &global]() -> int {
            auto start = std::chrono::steady_clock::now();
            SaveOptions save;
            save.overwrite = global.force;
            if (app->count("--external-data") > 0) {
              save.external_data = true;
              if (!options->external_data.empty()) {
                try {
                  size_t used = 0;
                  save.external_threshold = std::stoull(options->external_data, &used);
                  if (used != options->external_data.size()) throw std::invalid_argument("trailing");
                } catch (const std::exception&) {
                  return reportError(invalidArgument("--external-data: '" + options->external_data + "' is not a byte count"));
                }
              }
            }
            auto in_size = fileSize(options->model);
            if (!in_size) return reportError(in_size.status());
            auto model = loadModel(options->model);
            if (!model) return reportError(model.status());
            nlohmann::ordered_json pass_stats;
            if (auto spec = floatSpec(*options)) {
              auto pass = createPass(*spec);
              if (!pass) return reportError(pass.status());
              PassContext context;
              context.seed = global.seed;
              context.threads = global.threads;
              std::optional<Dataset> dataset;
              if (!options->data.data.empty()) {
                if (!options->fp16) return reportError(invalidArgument("--data needs --fp16 (it decides which nodes stay float32)"));
                auto session = Session::create(*model, {global.threads, nullptr});
                if (!session) return reportError(session.status());
                auto built = buildDataset(**session, options->data);
                if (!built) return reportError(built.status());
                dataset.emplace(std::move(*built));
                context.data = &*dataset;
              }
              auto result = (*pass)->run(*model, context);
              if (!result) return reportError(result.status().withContext(options->model));
              pass_stats = result->stats;
              if (!global.quiet && !global.json) std::printf("convert-float: %s\n", result->summary.c_str());
            } else if (!options->block.empty() || app->count("--no-keep-io-types") > 0 || !options->data.data.empty()) {
              return reportError(invalidArgument("--block, --data and --no-keep-io-types need --fp16 or --bf16"));
            }
            auto saved = saveModel(*model, global.output, save);
            if (!saved) return reportError(saved.status());
            double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (saved->external_forced)
              spdlog::warn("the model is over protobuf's 2 GiB limit: its weights were written to external data");
            if (global.json) {
              nlohmann::ordered_json j;
              j["input"] = options->model;
              j["input_bytes"] = *in_size;
              j["output"] = global.output;
              j["output_bytes"] = saved->model_bytes;
              j["external_data"] = saved->external_path.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(saved->external_path);
              j["external_data_bytes"] = saved->external_bytes;
              if (!pass_stats.is_null()) j["convert_float"] = pass_stats;
              j["seconds"] = seconds;
              printJson(j);
            } else if (!global.quiet) {
              std::string external = saved->external_path.empty() ? "" : " + " + saved->external_path + " (" + formatBytes(saved->external_bytes) + ")";
              std::printf("converted %s (%s) -> %s (%s)%s in %.2f s\n", options->model.c_str(), formatBytes(*in_size).c_str(),
                          global.output.c_str(), formatBytes(saved->model_bytes).c_str(), external.c_str(), seconds);
            }
            return kExitOk;
          }};
}

}  // namespace nnc::cli

// `nncompress quantize MODEL -o OUT (--calib-data D | --ranges R)`: static int8 quantization
// in QDQ format (canonicalize, calibrate or read the ranges, quantize, check, save).
#include <chrono>
#include <cstdio>

#include "cli.h"
#include "cli_calib.h"
#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/export.h"
#include "nncompress/passes/quantize.h"
#include "nncompress/support/file_io.h"

namespace nnc::cli {
namespace {

struct QuantizeCliOptions {
  std::string model;
  std::string ranges;
  CalibCliOptions calib;
  bool per_channel = true;
  bool reduce_range = true;
  std::string format = "qdq";
  std::string activations = "uint8";
  std::vector<std::string> exclude;
};

// The pass spec for the options (the pass checks the values).
PassSpec quantizeSpec(const QuantizeCliOptions& o) {
  PassSpec spec{"quantize", {}};
  spec.options["per_channel"] = o.per_channel ? "true" : "false";
  spec.options["reduce_range"] = o.reduce_range ? "true" : "false";
  spec.options["format"] = o.format;
  spec.options["activations"] = o.activations;
  std::string exclude;
  for (const std::string& p : o.exclude) exclude += (exclude.empty() ? "" : "+") + p;
  if (!exclude.empty()) spec.options["exclude"] = exclude;
  return spec;
}

}  // namespace

Command addQuantizeCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<QuantizeCliOptions>();
  CLI::App* app = root.add_subcommand("quantize", "Static int8 quantization (QDQ format) with calibration data or a ranges file");
  app->add_option("model", options->model, "The input .onnx model")->required();
  app->add_option("-o,--output", global.output, "Output .onnx path")->required();
  app->add_option("--ranges", options->ranges,
                  "Ranges file from `nncompress calibrate` (with --calib-data too: only its pinned ranges and float_nodes apply)");
  addCalibrationOptions(app, options->calib, false);
  app->add_flag("--per-channel,!--per-tensor", options->per_channel, "Weight scales per output channel (default) or per tensor")
      ->default_str("per-channel");
  app->add_flag("--reduce-range,!--full-range", options->reduce_range,
                "Weights over [-63,63] (default: exact in x86 int8 kernels without VNNI, e.g. ONNX Runtime on AVX2) "
                "or [-127,127] (VNNI, ARM, GPU targets)")
      ->default_str("reduce-range");
  app->add_option("--format", options->format, "Output format: qdq (QuantizeLinear/DequantizeLinear pairs)")
      ->default_str("qdq")
      ->check(CLI::IsMember({"qdq"}));
  app->add_option("--activations", options->activations, "Activation type: uint8 or int8 (asymmetric)")
      ->default_str("uint8")
      ->check(CLI::IsMember({"uint8", "int8"}));
  app->add_option("--exclude", options->exclude, "Node name or op type pattern (glob) to keep in float (repeatable)");
  return {app, [options, &global]() -> int {
            const auto start = std::chrono::steady_clock::now();
            if (options->calib.data.data.empty() && options->ranges.empty())
              return reportError(invalidArgument("quantize needs --calib-data D or --ranges FILE"));
            auto pass = createPass(quantizeSpec(*options));
            if (!pass) return reportError(pass.status());
            auto model = loadPreparedModel(options->model, global);
            if (!model) return reportError(model.status());
            std::optional<ActivationRanges> file_ranges;
            if (!options->ranges.empty()) {
              auto r = readRangesFile(options->ranges);
              if (!r) return reportError(r.status().withContext("--ranges"));
              file_ranges = std::move(r).value();
            }
            ActivationRanges ranges;
            double calib_seconds = 0;
            if (!options->calib.data.data.empty()) {
              auto calibrated = runCalibration(*model, options->calib, global, &calib_seconds);
              if (!calibrated) return reportError(calibrated.status().withContext(options->model));
              ranges = std::move(calibrated).value();
              if (file_ranges) ranges.applyOverrides(*file_ranges);
            } else {
              ranges = *file_ranges;
            }
            PassContext context;
            context.seed = global.seed;
            context.threads = global.threads;
            context.ranges = &ranges;
            auto result = (*pass)->run(*model, context);
            if (!result) return reportError(result.status().withContext(options->model));
            CheckReport check = checkModel(*model);
            if (check.result == CheckResult::kInvalid)
              return reportError(Status(ErrorCode::kInternal, "the quantized model fails the ONNX checker: " + check.message));
            SaveOptions save;
            save.overwrite = global.force;
            auto saved = saveModel(*model, global.output, save);
            if (!saved) return reportError(saved.status());
            auto in_size = fileSize(options->model);
            const double ratio = in_size && *in_size > 0 ? static_cast<double>(saved->model_bytes + saved->external_bytes) / *in_size : 0;
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (global.json) {
              nlohmann::ordered_json j;
              j["input"] = options->model;
              j["output"] = global.output;
              j["input_bytes"] = in_size ? *in_size : 0;
              j["output_bytes"] = saved->model_bytes + saved->external_bytes;
              j["size_ratio"] = ratio;
              j["stats"] = result->stats;
              j["calibration_seconds"] = calib_seconds;
              j["seconds"] = seconds;
              printJson(j);
            } else if (!global.quiet) {
              std::printf("quantized %s -> %s: %s; %s -> %s (%.1f%%); ranges: %s on %lld samples (%.2f s); total %.2f s\n",
                          options->model.c_str(), global.output.c_str(), result->summary.c_str(),
                          formatBytes(in_size ? *in_size : 0).c_str(), formatBytes(saved->model_bytes + saved->external_bytes).c_str(),
                          100 * ratio, ranges.method.c_str(), static_cast<long long>(ranges.samples), calib_seconds, seconds);
            }
            return kExitOk;
          }};
}

}  // namespace nnc::cli

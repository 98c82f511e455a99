// `nncompress quantize MODEL -o OUT (--calib-data D | --ranges R)`: static int8 quantization
// in QDQ format (canonicalize, calibrate or read the ranges, quantize, check, save).
// `--dynamic` (pass quantize-dynamic) and `--weight-only 8|4` (pass quantize-weights) need no
// calibration data. --max-accuracy-drop / --min-agreement run the accuracy-aware search
// (cli_quant_search.h) instead of a single quantize pass. --cle and --smoothquant rewrite the
// float model before calibration; --bias-correction corrects the quantized model's biases.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "cli.h"
#include "cli_calib.h"
#include "cli_quant_search.h"
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
  bool dynamic = false;
  int weight_only_bits = 0;  // 0: not weight-only
  int block_size = 32;
  AccuracyCliOptions accuracy;
  // Advanced methods (docs/quantization.md, "Advanced methods").
  bool cle = false;
  std::string smoothquant;  // "" (flag alone: alpha 0.5) or the alpha; used when the flag is given
  bool bias_correction = false;
};

std::string joinPatterns(const std::vector<std::string>& patterns) {
  std::string joined;
  for (const std::string& p : patterns) joined += (joined.empty() ? "" : "+") + p;
  return joined;
}

// The pass spec for the options (the pass checks the values).
PassSpec quantizeSpec(const QuantizeCliOptions& o) {
  PassSpec spec{"quantize", {}};
  spec.options["per_channel"] = o.per_channel ? "true" : "false";
  spec.options["reduce_range"] = o.reduce_range ? "true" : "false";
  spec.options["format"] = o.format;
  spec.options["activations"] = o.activations;
  if (!o.exclude.empty()) spec.options["exclude"] = joinPatterns(o.exclude);
  if (o.bias_correction) {
    // The ranges calibrated by the command are used as they are; the data serves bias correction.
    spec.options["bias_correction"] = "true";
    spec.options["ranges"] = "given";
    spec.options["samples"] = std::to_string(o.calib.samples);
    spec.options["batch_size"] = std::to_string(o.calib.data.batch_size);
  }
  return spec;
}

// Cross-layer equalization and SmoothQuant: float rewrites before calibration (they change the
// activation ranges). SmoothQuant and bias correction read the calibration data.
// Returns each pass's statistics by pass name (for --json).
Expected<nlohmann::ordered_json> applyPreparations(Model& model, const QuantizeCliOptions& o, bool smoothquant, const Dataset* data,
                                                   const GlobalOptions& global) {
  PassContext context;
  context.seed = global.seed;
  context.threads = global.threads;
  context.data = data;
  std::vector<PassSpec> specs;
  if (o.cle) specs.push_back({"cross-layer-equalization", {}});
  if (smoothquant)
    specs.push_back({"smoothquant",
                     {{"alpha", o.smoothquant.empty() ? "0.5" : o.smoothquant},
                      {"samples", std::to_string(o.calib.samples)},
                      {"batch_size", std::to_string(o.calib.data.batch_size)}}});
  nlohmann::ordered_json stats = nlohmann::ordered_json::object();
  for (const PassSpec& spec : specs) {
    NNC_ASSIGN_OR_RETURN(auto pass, createPass(spec));
    NNC_ASSIGN_OR_RETURN(PassResult result, pass->run(model, context));  // the pass logs its summary
    stats[spec.name] = result.stats;
  }
  return stats;
}

// Dynamic int8: per-tensor weight scales unless --per-channel was given (ORT's default).
// The same options as the library struct, for the accuracy-aware search (it quantizes without
// the pass, once per trial).
QuantizeOptions quantizeOptions(const QuantizeCliOptions& o) {
  QuantizeOptions q;
  q.per_channel = o.per_channel;
  q.reduce_range = o.reduce_range;
  q.activation_type = o.activations == "int8" ? DType::kInt8 : DType::kUInt8;
  q.exclude = o.exclude;
  return q;
}

PassSpec dynamicSpec(const QuantizeCliOptions& o, bool per_channel_given) {
  PassSpec spec{"quantize-dynamic", {}};
  spec.options["per_channel"] = per_channel_given && o.per_channel ? "true" : "false";
  spec.options["reduce_range"] = o.reduce_range ? "true" : "false";
  if (!o.exclude.empty()) spec.options["exclude"] = joinPatterns(o.exclude);
  return spec;
}

PassSpec weightOnlySpec(const QuantizeCliOptions& o) {
  PassSpec spec{"quantize-weights", {}};
  spec.options["bits"] = std::to_string(o.weight_only_bits);
  spec.options["block_size"] = std::to_string(o.block_size);
  if (!o.exclude.empty()) spec.options["exclude"] = joinPatterns(o.exclude);
  return spec;
}

}  // namespace

Command addQuantizeCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<QuantizeCliOptions>();
  CLI::App* app = root.add_subcommand("quantize", "Int8 quantization: static QDQ from calibration data or a ranges file; --dynamic; --weight-only 8|4");
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
  app->add_flag("--dynamic", options->dynamic,
                "Dynamic int8: MatMul/Gemm with constant weights become DynamicQuantizeLinear + MatMulInteger "
                "(no calibration data; docs/quantization_dynamic.md)");
  app->add_option("--weight-only", options->weight_only_bits,
                  "Weight-only: 8 (int8 per channel) or 4 (int4 block-wise, opset 21) MatMul/Gemm weights "
                  "(docs/quantization_weights.md)")
      ->check(CLI::IsMember({4, 8}));
  app->add_option("--block-size", options->block_size, "Block size along K for --weight-only 4")->default_str("32");
  addAccuracyOptions(app, options->accuracy);
  app->add_flag("--cle", options->cle,
                "Cross-layer equalization before calibration (needs --calib-data): balances the weight ranges of consecutive Conv/Gemm "
                "layers (helps per-tensor weights, depthwise convs); exact in float");
  app->add_option("--smoothquant", options->smoothquant,
                  "SmoothQuant before calibration (needs --calib-data): moves activation outliers of MatMul/Gemm inputs "
                  "into the weights; optional migration strength ALPHA in [0,1] (default 0.5), e.g. --smoothquant=0.6")
      ->expected(0, 1)
      ->type_name("[ALPHA]");
  app->add_flag("--bias-correction", options->bias_correction,
                "Empirical bias correction after quantization (needs --calib-data): each Conv/Gemm's per-channel mean "
                "output shift against the float model, measured on the calibration data, added to its bias");
  return {app, [app, options, &global]() -> int {
            const auto start = std::chrono::steady_clock::now();
            const bool no_calibration = options->dynamic || options->weight_only_bits != 0;
            if (options->dynamic && options->weight_only_bits != 0)
              return reportError(invalidArgument("--dynamic and --weight-only are different modes: choose one"));
            if (no_calibration && (!options->calib.data.data.empty() || !options->ranges.empty()))
              return reportError(invalidArgument("--dynamic and --weight-only need no --calib-data or --ranges"));
            if (!no_calibration && options->calib.data.data.empty() && options->ranges.empty())
              return reportError(invalidArgument("quantize needs --calib-data D or --ranges FILE (or --dynamic / --weight-only)"));
            if (app->count("--block-size") > 0 && options->weight_only_bits != 4)
              return reportError(invalidArgument("--block-size applies to --weight-only 4 only"));
            if (Status s = checkAccuracyOptions(options->accuracy); !s.isOk()) return reportError(s);
            if (no_calibration && options->accuracy.requested())
              return reportError(invalidArgument("--max-accuracy-drop and --min-agreement apply to static int8 quantization"));
            const bool smoothquant = app->count("--smoothquant") > 0;
            if (smoothquant && !options->smoothquant.empty()) {
              char* end = nullptr;
              const double alpha = std::strtod(options->smoothquant.c_str(), &end);
              if (end == options->smoothquant.c_str() || *end != '\0' || !(alpha >= 0 && alpha <= 1))
                return reportError(invalidArgument("--smoothquant " + options->smoothquant + ": ALPHA must be a number in [0, 1]"));
            }
            const bool prepares = options->cle || smoothquant;
            if (no_calibration && (prepares || options->bias_correction))
              return reportError(invalidArgument("--cle, --smoothquant and --bias-correction apply to static int8 quantization"));
            if ((prepares || options->bias_correction) && options->calib.data.data.empty())
              return reportError(invalidArgument(
                  "--cle, --smoothquant and --bias-correction need --calib-data (they change or compare activations, so a ranges "
                  "file of the unchanged model does not fit)"));
            if (options->bias_correction && options->accuracy.requested())
              return reportError(invalidArgument("--bias-correction does not combine with --max-accuracy-drop / --min-agreement"));
            auto pass = createPass(options->dynamic             ? dynamicSpec(*options, app->count("--per-channel") > 0)
                                   : options->weight_only_bits ? weightOnlySpec(*options)
                                                               : quantizeSpec(*options));
            if (!pass) return reportError(pass.status());
            auto model = loadPreparedModel(options->model, global);
            if (!model) return reportError(model.status());
            std::optional<ActivationRanges> file_ranges;
            if (!options->ranges.empty()) {
              auto r = readRangesFile(options->ranges);
              if (!r) return reportError(r.status().withContext("--ranges"));
              file_ranges = std::move(r).value();
            }
            std::optional<Dataset> calib_data;
            if (smoothquant || options->bias_correction) {
              auto opened = openCalibrationData(*model, options->calib, global);
              if (!opened) return reportError(opened.status());
              calib_data = std::move(opened).value();
            }
            nlohmann::ordered_json preparations = nlohmann::ordered_json::object();
            if (prepares) {
              auto prepared = applyPreparations(*model, *options, smoothquant, calib_data ? &*calib_data : nullptr, global);
              if (!prepared) return reportError(prepared.status().withContext(options->model));
              preparations = std::move(prepared).value();
            }
            ActivationRanges ranges;
            double calib_seconds = 0;
            if (no_calibration) {
              ranges.method = "none";
            } else if (!options->calib.data.data.empty()) {
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
            if (options->bias_correction) context.data = &*calib_data;
            std::optional<SensitivitySearchResult> search;
            Expected<PassResult> result = PassResult{};
            if (options->accuracy.requested()) {
              auto found = runAccuracySearch(*model, ranges, quantizeOptions(*options), options->accuracy,
                                             options->calib.data, global);
              if (!found) return reportError(found.status().withContext(options->model));
              search = std::move(found).value();
              *model = std::move(search->model);
              result = search->quantize_result;
            } else {
              result = (*pass)->run(*model, context);
            }
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
              if (!preparations.empty()) j["preparations"] = preparations;
              j["calibration_seconds"] = calib_seconds;
              j["seconds"] = seconds;
              if (search) j["accuracy_search"] = searchToJson(*search);
              printJson(j);
            } else if (!global.quiet) {
              const std::string sizes = formatBytes(in_size ? *in_size : 0) + " -> " +
                                        formatBytes(saved->model_bytes + saved->external_bytes);
              if (no_calibration)
                std::printf("quantized %s -> %s: %s; %s (%.1f%%); total %.2f s\n", options->model.c_str(),
                            global.output.c_str(), result->summary.c_str(), sizes.c_str(), 100 * ratio, seconds);
              else
                std::printf("quantized %s -> %s: %s; %s (%.1f%%); ranges: %s on %lld samples (%.2f s); total %.2f s\n",
                            options->model.c_str(), global.output.c_str(), result->summary.c_str(), sizes.c_str(),
                            100 * ratio, ranges.method.c_str(), static_cast<long long>(ranges.samples), calib_seconds,
                            seconds);
              if (search) printSearchSummary(*search);
            }
            return kExitOk;
          }};
}

}  // namespace nnc::cli

// `nncompress calibrate MODEL --calib-data D -o ranges.json`: activation ranges for static
// quantization, in a file a person can read and edit (docs/ranges.md) before
// `nncompress quantize MODEL --ranges ranges.json`.
#include <cstdio>

#include "cli.h"
#include "cli_calib.h"

namespace nnc::cli {
namespace {

struct CalibrateOptions {
  std::string model;
  CalibCliOptions calib;
  std::vector<std::string> exclude;
};

}  // namespace

Command addCalibrateCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<CalibrateOptions>();
  CLI::App* app = root.add_subcommand("calibrate", "Compute activation ranges for static int8 quantization (a JSON ranges file)");
  app->add_option("model", options->model, "The .onnx model")->required();
  app->add_option("-o,--output", global.output, "Output ranges file (.json)")->required();
  addCalibrationOptions(app, options->calib, true);
  app->add_option("--exclude", options->exclude, "Node name or op type pattern (glob) to keep in float; written to float_nodes (repeatable)");
  return {app, [options, &global]() -> int {
            auto model = loadPreparedModel(options->model, global);
            if (!model) return reportError(model.status());
            double seconds = 0;
            auto ranges = runCalibration(*model, options->calib, global, &seconds);
            if (!ranges) return reportError(ranges.status().withContext(options->model));
            ranges->float_nodes = options->exclude;
            Status written = writeRangesFile(*ranges, global.output, global.force);
            if (!written.isOk()) return reportError(written);
            if (global.json) {
              nlohmann::ordered_json j;
              j["model"] = options->model;
              j["output"] = global.output;
              j["method"] = ranges->method;
              j["samples"] = ranges->samples;
              j["values"] = ranges->values.size();
              j["calibration_digest"] = ranges->digest;
              j["seconds"] = seconds;
              printJson(j);
            } else if (!global.quiet) {
              std::printf("calibrated %s: %zu value ranges (%s) from %lld samples -> %s (%.2f s)\n", options->model.c_str(),
                          ranges->values.size(), ranges->method.c_str(), static_cast<long long>(ranges->samples),
                          global.output.c_str(), seconds);
            }
            return kExitOk;
          }};
}

}  // namespace nnc::cli

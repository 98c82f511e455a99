// Calibration options and steps shared by calibrate and quantize (see cli_calib.h).
#include "cli_calib.h"

#include <chrono>

#include "nncompress/onnx/import.h"
#include "nncompress/passes/pass.h"
#include "progress.h"

namespace nnc::cli {

void addCalibrationOptions(CLI::App* app, CalibCliOptions& options, bool data_required) {
  options.data.data_flag = "--calib-data";
  auto* data = app->add_option("--calib-data", options.data.data,
                               "Calibration samples: [INPUT=]PATH: .npy, .npz, idx(.gz), ONNX test_data_set folder, image folder");
  if (data_required) data->required();
  app->add_option("--calib-samples", options.samples, "Use only the first N calibration samples (0: all)")->check(CLI::NonNegativeNumber);
  app->add_option("--calib", options.method, "Range method: minmax, percentile, entropy (KL) or mse")
      ->default_str("minmax")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy", "mse"}));
  app->add_option("--percentile", options.percentile, "With --calib percentile: the percentile kept (e.g. 99.99)")
      ->default_str("99.99")
      ->check(CLI::Range(0.0, 100.0));
  addPreprocessOptions(app, options.data);
}

Expected<Model> loadPreparedModel(const std::string& path, const GlobalOptions& global) {
  NNC_ASSIGN_OR_RETURN(Model model, loadModel(path));
  NNC_ASSIGN_OR_RETURN(auto pass, createPass({"canonicalize", {}}));
  PassContext context;
  context.seed = global.seed;
  context.threads = global.threads;
  auto result = pass->run(model, context);
  if (!result) return result.status().withContext(path);
  return model;
}

Expected<ActivationRanges> runCalibration(const Model& model, const CalibCliOptions& options, const GlobalOptions& global,
                                          double* seconds) {
  const auto start = std::chrono::steady_clock::now();
  CalibrationOptions calib;
  NNC_ASSIGN_OR_RETURN(calib.method, parseRangeMethod(options.method));
  calib.percentile = options.percentile;
  calib.max_samples = options.samples;
  calib.batch_size = options.data.batch_size;
  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {global.threads, nullptr}));
  NNC_ASSIGN_OR_RETURN(Dataset dataset, buildDataset(*session, options.data));
  int64_t total = dataset.size();
  if (options.samples > 0) total = std::min(total, options.samples);
  Progress progress("calibrate", total, global.quiet);
  auto ranges = calibrate(model, dataset, calib, global.threads, [&](int64_t done, int64_t) { progress.update(done); });
  progress.finish();
  if (seconds != nullptr) *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return ranges;
}

Expected<Dataset> openCalibrationData(const Model& model, const CalibCliOptions& options, const GlobalOptions& global) {
  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {global.threads, nullptr}));
  return buildDataset(*session, options.data);
}

}  // namespace nnc::cli

// Shared data options (see cli_data.h).
#include "cli_data.h"

namespace nnc::cli {

void addDataOptions(CLI::App* app, DataCliOptions& options, bool with_labels) {
  app->add_option("--data", options.data, "Samples: [INPUT=]PATH: .npy, .npz, idx(.gz), ONNX test_data_set folder, image folder (see docs/data.md)")->required();
  if (with_labels) app->add_option("--labels", options.labels, "Labels: .npy, idx(.gz) or text, one integer per sample (class subfolders of an image folder give labels too)");
  addPreprocessOptions(app, options);
  app->add_option("--limit", options.limit, "Use only the first N samples (0: all)")->check(CLI::NonNegativeNumber);
}

void addPreprocessOptions(CLI::App* app, DataCliOptions& options) {
  app->add_option("--scale", options.scale, "Multiply samples by this (e.g. 1/255) when feeding float inputs")->default_str("1");
  app->add_option("--mean", options.mean, "Per-channel mean subtracted after --scale")->delimiter(',');
  app->add_option("--std", options.std, "Per-channel std divided after --mean")->delimiter(',');
  app->add_option("--batch-size", options.batch_size, "Samples per run")->default_str("32")->check(CLI::PositiveNumber);
  app->add_option("--resize", options.image.resize, "Images: scale the shorter side to N pixels (bilinear)")->check(CLI::NonNegativeNumber);
  app->add_option("--crop", options.image.crop, "Images: center crop to N x N after --resize")->check(CLI::NonNegativeNumber);
  app->add_flag("--nhwc", options.image.nhwc, "Images: samples as [H,W,C] instead of [C,H,W]");
  app->add_flag("--bgr", options.image.bgr, "Images: channel order B,G,R");
  app->add_flag_callback("--grayscale", [&options] { options.image.grayscale = true; }, "Images: one gray channel");
}

namespace {

Expected<double> parseScale(const std::string& text) {
  try {
    size_t slash = text.find('/');
    if (slash == std::string::npos) {
      size_t used = 0;
      double v = std::stod(text, &used);
      if (used == text.size()) return v;
    } else {
      size_t used_a = 0, used_b = 0;
      std::string a = text.substr(0, slash), b = text.substr(slash + 1);
      double num = std::stod(a, &used_a), den = std::stod(b, &used_b);
      if (used_a == a.size() && used_b == b.size() && den != 0) return num / den;
    }
  } catch (const std::exception&) {
  }
  return invalidArgument("--scale: '" + text + "' is not a number or a fraction like 1/255");
}

}  // namespace

Expected<Dataset> buildDataset(const Session& session, const DataCliOptions& options) {
  Dataset dataset;
  DataOptions data_options;
  data_options.image = options.image;
  for (const std::string& spec : options.data)
    NNC_RETURN_IF_ERROR(addDataSpec(dataset, session, spec, data_options).withContext(options.data_flag));
  if (!options.labels.empty()) {
    auto labels = readLabels(options.labels);
    if (!labels) return labels.status().withContext("--labels");
    dataset.setLabels(std::move(labels).value());
  }
  Preprocess pre;
  NNC_ASSIGN_OR_RETURN(pre.scale, parseScale(options.scale));
  pre.mean = options.mean;
  pre.std = options.std;
  dataset.setPreprocess(pre);
  NNC_RETURN_IF_ERROR(dataset.validate(session));
  return dataset;
}

Expected<std::map<std::string, int64_t>> parseDims(const std::vector<std::string>& specs) {
  std::map<std::string, int64_t> dims;
  for (const std::string& spec : specs) {
    size_t eq = spec.find('=');
    try {
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument("no =");
      size_t used = 0;
      int64_t v = std::stoll(spec.substr(eq + 1), &used);
      if (used != spec.size() - eq - 1 || v < 0) throw std::invalid_argument("bad value");
      dims[spec.substr(0, eq)] = v;
    } catch (const std::exception&) {
      return invalidArgument("--dim: '" + spec + "' is not NAME=VALUE with a non-negative integer");
    }
  }
  return dims;
}

}  // namespace nnc::cli

namespace nnc::cli {

void addGeneratedInputOptions(CLI::App* app, GeneratedInputOptions& options) {
  app->add_option("--dim", options.dims, "SYMBOL=VALUE for a symbolic input dim (repeatable; others: 1, the first: the batch)");
  app->add_option("--shape", options.shapes, "INPUT=AxBxC: the whole shape of a generated input ('INPUT=' for a scalar)");
  app->add_option("--const", options.constants, "INPUT=VALUE: fill a generated input with one value (e.g. sr=16000)");
}

Status applyGeneratedInputOptions(const GeneratedInputOptions& options, RandomInputOptions& random) {
  NNC_ASSIGN_OR_RETURN(random.dims, parseDims(options.dims));
  for (const std::string& spec : options.shapes) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return invalidArgument("--shape: '" + spec + "' is not INPUT=AxBxC");
    std::vector<int64_t> shape;
    std::string dims = spec.substr(eq + 1);
    size_t pos = 0;
    while (pos < dims.size()) {
      size_t x = dims.find('x', pos);
      std::string d = dims.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
      try {
        size_t used = 0;
        int64_t v = std::stoll(d, &used);
        if (used != d.size() || v < 0) throw std::invalid_argument(d);
        shape.push_back(v);
      } catch (const std::exception&) {
        return invalidArgument("--shape: '" + spec + "' is not INPUT=AxBxC");
      }
      if (x == std::string::npos) break;
      pos = x + 1;
    }
    random.shapes[spec.substr(0, eq)] = shape;
  }
  for (const std::string& spec : options.constants) {
    size_t eq = spec.find('=');
    try {
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument(spec);
      size_t used = 0;
      double v = std::stod(spec.substr(eq + 1), &used);
      if (used != spec.size() - eq - 1) throw std::invalid_argument(spec);
      random.constants[spec.substr(0, eq)] = v;
    } catch (const std::exception&) {
      return invalidArgument("--const: '" + spec + "' is not INPUT=NUMBER");
    }
  }
  return Status::ok();
}

}  // namespace nnc::cli

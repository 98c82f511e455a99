// `nncompress inspect MODEL`: what a model is made of (see docs/cli.md for the JSON schema).
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "nncompress/analysis/model_summary.h"
#include "nncompress/onnx/import.h"
#include "nncompress/support/file_io.h"

namespace nnc::cli {
namespace {

struct InspectOptions {
  std::string model;
  int max_layers = 50;
};

nlohmann::ordered_json signatureJson(const TensorSignature& s) {
  nlohmann::ordered_json j;
  j["name"] = s.name;
  j["dtype"] = s.dtype;
  if (s.has_shape) j["shape"] = s.shape;
  else j["shape"] = nullptr;
  return j;
}

nlohmann::ordered_json summaryJson(const std::string& path, uint64_t file_bytes, const ModelSummary& s) {
  nlohmann::ordered_json j;
  j["schema"] = "nncompress.inspect/1";
  j["file"] = path;
  j["file_bytes"] = file_bytes;
  j["ir_version"] = s.ir_version;
  auto& opsets = j["opsets"] = nlohmann::ordered_json::array();
  for (const auto& [domain, version] : s.opsets) opsets.push_back({{"domain", domain.empty() ? "ai.onnx" : domain}, {"version", version}});
  j["producer"] = s.producer;
  auto& in = j["inputs"] = nlohmann::ordered_json::array();
  for (const auto& sig : s.inputs) in.push_back(signatureJson(sig));
  auto& out = j["outputs"] = nlohmann::ordered_json::array();
  for (const auto& sig : s.outputs) out.push_back(signatureJson(sig));
  j["params"] = s.params;
  j["params_by_dtype"] = s.params_by_dtype;
  j["weight_bytes"] = s.weight_bytes;
  j["zero_fraction"] = s.params > 0 ? static_cast<double>(s.zero_params) / static_cast<double>(s.params) : 0.0;
  j["nodes"] = s.node_count;
  j["op_histogram"] = s.op_histogram;
  auto& layers = j["layers"] = nlohmann::ordered_json::array();
  for (const auto& layer : s.layers) {
    nlohmann::ordered_json l;
    l["name"] = layer.name;
    l["op"] = layer.op;
    auto& weights = l["weights"] = nlohmann::ordered_json::array();
    for (const auto& w : layer.weights) weights.push_back({{"name", w.name}, {"dtype", w.dtype}, {"shape", w.shape}});
    l["params"] = layer.params;
    l["share"] = layer.share;
    l["zero_fraction"] = layer.zero_fraction;
    l["sparsity"] = layer.sparsity;
    layers.push_back(std::move(l));
  }
  auto& meta = j["metadata"] = nlohmann::ordered_json::object();
  for (const auto& [key, value] : s.metadata) meta[key] = value;
  return j;
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "x" : "") + std::to_string(shape[i]);
  return text + "]";
}

void printText(const std::string& path, uint64_t file_bytes, const ModelSummary& s, int max_layers) {
  std::printf("model     %s (%s)\n", path.c_str(), formatBytes(file_bytes).c_str());
  std::string opsets;
  for (const auto& [domain, version] : s.opsets)
    opsets += (opsets.empty() ? "" : ", ") + (domain.empty() ? std::string("ai.onnx") : domain) + " " + std::to_string(version);
  std::printf("format    IR %lld, opsets: %s\n", static_cast<long long>(s.ir_version), opsets.c_str());
  std::printf("producer  %s\n", s.producer.empty() ? "(none)" : s.producer.c_str());
  for (const auto& sig : s.inputs) std::printf("input     %s %s\n", sig.name.c_str(), formatSignature(sig).c_str());
  for (const auto& sig : s.outputs) std::printf("output    %s %s\n", sig.name.c_str(), formatSignature(sig).c_str());
  std::string by_type;
  for (const auto& [dtype, count] : s.params_by_dtype) by_type += (by_type.empty() ? "" : ", ") + dtype + " " + formatCount(count);
  double zeros = s.params > 0 ? 100.0 * static_cast<double>(s.zero_params) / static_cast<double>(s.params) : 0.0;
  std::printf("params    %s (%s), %s of weights, %.1f%% zeros\n", formatCount(s.params).c_str(),
              by_type.empty() ? "none" : by_type.c_str(), formatBytes(s.weight_bytes).c_str(), zeros);
  std::string ops;
  for (const auto& [op, count] : s.op_histogram) ops += (ops.empty() ? "" : ", ") + op + " " + std::to_string(count);
  std::printf("nodes     %lld: %s\n", static_cast<long long>(s.node_count), ops.c_str());
  if (s.layers.empty()) return;
  std::printf("\n%-32s %-22s %-28s %12s %7s %7s %8s\n", "layer", "op", "weights", "params", "share", "zeros", "sparsity");
  int shown = 0;
  for (const auto& layer : s.layers) {
    if (max_layers > 0 && shown++ >= max_layers) {
      std::printf("... %zu more layers (--max-layers 0 shows all)\n", s.layers.size() - static_cast<size_t>(max_layers));
      break;
    }
    std::string weights;
    for (const auto& w : layer.weights) weights += (weights.empty() ? "" : " ") + shapeText(w.shape);
    std::printf("%-32s %-22s %-28s %12s %6.1f%% %6.1f%% %7.1f%%\n", layer.name.substr(0, 32).c_str(), layer.op.substr(0, 22).c_str(),
                weights.substr(0, 28).c_str(), formatCount(layer.params).c_str(), 100.0 * layer.share,
                100.0 * layer.zero_fraction, 100.0 * layer.sparsity);
  }
}

}  // namespace

Command addInspectCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* app = root.add_subcommand("inspect", "Show a model's inputs, outputs, parameters, ops and per-layer weights");
  app->add_option("model", options->model, "The .onnx model")->required();
  app->add_option("--max-layers", options->max_layers, "Rows of the layer table to print (0: all)");
  return {app, [options, &global]() -> int {
            auto size = fileSize(options->model);
            if (!size) return reportError(size.status());
            auto model = loadModel(options->model);
            if (!model) return reportError(model.status());
            ModelSummary summary = summarizeModel(*model);
            if (global.json) printJson(summaryJson(options->model, *size, summary));
            else printText(options->model, *size, summary, options->max_layers);
            return kExitOk;
          }};
}

}  // namespace nnc::cli

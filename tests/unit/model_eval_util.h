// Helpers for the tests of model-rewriting passes (float conversion, quantization): accuracy of
// a bundled Fashion-MNIST classifier in nncompress's runtime and in ONNX Runtime (through
// tools/ort/ort_eval.js on an exported file), outputs on seeded inputs, and a pass run by text.
#pragma once

#include <string>
#include <vector>

#include "nncompress/ir/graph.h"
#include "nncompress/passes/pass.h"

namespace nnc::test {

// models/ (or $NNC_MODELS_DIR).
std::string bundledModelsDir();
Model loadBundled(const std::string& name);  // "cnn_bn" -> models/cnn_bn.onnx; fails the test on error
Model copyModel(const Model& model);        // through serialization

// Runs one pass given as pipeline text ("convert-float{type=fp16}"); fails the test on error.
PassResult runPassText(Model& model, const std::string& text);

// Top-1 correct count on the 2000-sample test split (uint8 / 255, batches of 100).
int64_t top1Correct(const Model& model);

// Why ONNX Runtime cannot be used here ("" when it can). Tests skip on a reason unless
// NNC_REQUIRE_ORT=1 (then they fail).
std::string ortMissing();
// Top-1 correct count of a model file in ONNX Runtime (same data handling as top1Correct).
int64_t ortTop1Correct(const std::string& model_path, const std::string& opt_level = "all");
// Outputs of a model file in ONNX Runtime on the given inputs (by name), as float32, with ORT's
// graph optimization level (disabled, basic, extended, all).
std::vector<std::vector<float>> ortOutputs(const std::string& model_path, const std::vector<std::pair<std::string, Tensor>>& inputs,
                                           const std::string& opt_level = "all");

// Float outputs (any float type decoded) of a model in nncompress's runtime.
std::vector<std::vector<float>> runModel(const Model& model, const std::vector<std::pair<std::string, Tensor>>& inputs);
// Seeded uniform [-1, 1) float32 inputs for every feedable input (first symbolic dim = batch).
std::vector<std::pair<std::string, Tensor>> seededInputs(const Model& model, int64_t batch, uint64_t seed);

// Saves a model to a fresh temporary file and returns the path.
std::string saveTemp(const Model& model, const std::string& file_name);

}  // namespace nnc::test

// `nncompress recommend`: reads a model (op mix, parameters and where they sit, existing
// sparsity and quantization, recurrent and attention parts) and a target (integer dot products,
// fp16 arithmetic) and proposes a recipe with one reason per step, in the spirit of the usual
// advice: int8 quantization for size and speed on integer hardware, fp16 on GPUs, structured
// pruning + fine-tuning for over-parameterized convnets and MLPs, dynamic int8 for recurrent and
// attention models. The recipe is a pipeline `nncompress pipeline --recipe` runs as is.
#pragma once

#include <string>
#include <vector>

#include "nncompress/passes/pass.h"

namespace nnc {

enum class Target { kCpuAvx512, kCpuAvx2, kArm64, kGpu };

Expected<Target> parseTarget(const std::string& name);  // cpu-avx512, cpu-avx2, arm64, gpu
std::string targetName(Target target);

struct ModelTraits {
  int64_t params = 0;
  double sparsity = 0;                 // zero fraction of all constants
  int64_t conv = 0, depthwise = 0;     // Conv nodes, of which depthwise (group == channels)
  int64_t linear = 0;                  // Gemm/MatMul with a constant weight
  int64_t attention_matmuls = 0;       // MatMul of two computed tensors (attention scores)
  int64_t recurrent = 0;               // LSTM/GRU/RNN
  int64_t norms = 0;                   // LayerNormalization or decomposed ones (ReduceMean)
  int64_t batchnorms = 0;
  bool quantized = false;              // already has Q/DQ, QLinear*, *Integer ops
  bool half = false;                   // already float16/bfloat16 weights
  double linear_weight_share = 0;      // params in Conv/Gemm/MatMul weights / all params
};

struct RecipeStep {
  PassSpec pass;
  std::string reason;
};

struct Recommendation {
  Target target;
  ModelTraits traits;
  std::vector<RecipeStep> steps;
  std::vector<std::string> notes;  // what was considered and left out, and what the steps need
  bool needs_calibration_data = false;
  bool needs_training_data = false;
};

ModelTraits analyzeModel(Model& model);
Recommendation recommend(Model& model, Target target);
// The recipe file text (YAML with the reasons as comments), readable by loadRecipe().
std::string recipeYaml(const Recommendation& recommendation, const std::string& model_name);

}  // namespace nnc

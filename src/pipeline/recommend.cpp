// See recommend.h. The rules are few and written out here so that each proposed step can say
// why; thresholds are conservative starting points, not tuned per model.
#include "nncompress/pipeline/recommend.h"

#include <cstdio>

#include "nncompress/analysis/model_summary.h"

namespace nnc {
namespace {

// Pruning below this many parameters saves little and costs accuracy.
constexpr int64_t kMinParamsToPrune = 50000;

bool isQuantizedOp(const Node& n) {
  static const char* kOps[] = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
                               "MatMulInteger", "ConvInteger", "QLinearAdd", "DynamicQuantizeLSTM", "MatMulNBits"};
  for (const char* op : kOps)
    if (n.op_type == op) return true;
  return false;
}

int64_t constantElements(Value* v) {
  auto ref = constantRefOf(v);
  return ref ? ref->tensor().elementCount() : 0;
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f%%", 100 * fraction);
  return text;
}

PassSpec spec(const std::string& name, std::map<std::string, std::string> options = {}) { return PassSpec{name, std::move(options)}; }

}  // namespace

Expected<Target> parseTarget(const std::string& name) {
  if (name == "cpu-avx512") return Target::kCpuAvx512;
  if (name == "cpu-avx2") return Target::kCpuAvx2;
  if (name == "arm64") return Target::kArm64;
  if (name == "gpu") return Target::kGpu;
  return invalidArgument("--target " + name + ": expected cpu-avx512, cpu-avx2, arm64 or gpu");
}

std::string targetName(Target target) {
  switch (target) {
    case Target::kCpuAvx512: return "cpu-avx512";
    case Target::kCpuAvx2: return "cpu-avx2";
    case Target::kArm64: return "arm64";
    case Target::kGpu: return "gpu";
  }
  return "?";
}

ModelTraits analyzeModel(Model& model) {
  ModelTraits t;
  ModelSummary summary = summarizeModel(model);
  t.params = summary.params;
  t.sparsity = summary.params ? static_cast<double>(summary.zero_params) / static_cast<double>(summary.params) : 0;
  int64_t half = 0;
  for (const auto& [dtype, n] : summary.params_by_dtype)
    if (dtype == "float16" || dtype == "bfloat16") half += n;
  t.half = summary.params > 0 && half * 2 > summary.params;
  int64_t linear_weights = 0;
  forEachNode(*model.graph, [&](Node& n) {
    if (!n.domain.empty() && n.domain != "ai.onnx" && !isQuantizedOp(n)) return;
    if (isQuantizedOp(n)) t.quantized = true;
    const std::string& op = n.op_type;
    if (op == "Conv" || op == "ConvTranspose") {
      ++t.conv;
      auto w = constantRefOf(n.input(1));
      if (w && w->tensor().shape.size() >= 2 && w->tensor().shape[1] == 1 && n.attrInt("group", 1) > 1) ++t.depthwise;
      linear_weights += constantElements(n.input(1));
    } else if (op == "Gemm" || op == "MatMul") {
      const int64_t w = std::max(constantElements(n.input(0)), constantElements(n.input(1)));
      if (w > 0) {
        ++t.linear;
        linear_weights += w;
      } else if (op == "MatMul") {
        ++t.attention_matmuls;
      }
    } else if (op == "LSTM" || op == "GRU" || op == "RNN") {
      ++t.recurrent;
    } else if (op == "LayerNormalization" || op == "ReduceMean") {
      ++t.norms;
    } else if (op == "BatchNormalization") {
      ++t.batchnorms;
    }
  });
  t.linear_weight_share = t.params ? static_cast<double>(linear_weights) / static_cast<double>(t.params) : 0;
  return t;
}

Recommendation recommend(Model& model, Target target) {
  Recommendation r;
  r.target = target;
  r.traits = analyzeModel(model);
  const ModelTraits& t = r.traits;
  const bool sequence_model = t.recurrent > 0 || (t.attention_matmuls > 0 && t.norms > 0);

  std::string canonical = "folds constants";
  if (t.batchnorms > 0) canonical += " and " + std::to_string(t.batchnorms) + " BatchNormalization into the layers before them";
  canonical += ", removes Identity/Dropout and dead nodes: a smaller graph, and the form pruning and quantization work on";
  r.steps.push_back({spec("canonicalize"), canonical});

  if (t.quantized) {
    r.notes.push_back("the model is already quantized (Q/DQ or integer ops): quantizing again is not proposed; pruning a quantized "
                      "model would need its float original");
    return r;
  }

  // Structured pruning: convnets and MLPs with enough parameters in their layers.
  const bool prunable = !sequence_model && (t.conv >= 4 || t.linear >= 2) && t.params >= kMinParamsToPrune && t.linear_weight_share > 0.5;
  if (prunable) {
    const bool mlp = t.conv == 0;
    r.steps.push_back({spec("prune-channels", {{"granularity", mlp ? "neuron" : "channel"}, {"sparsity", "0.3"}}),
                       std::string("structured pruning removes whole ") + (mlp ? "neurons" : "channels") +
                           " so the weight tensors really shrink (size and speed on any runtime); " + percent(t.linear_weight_share) +
                           " of the parameters sit in prunable layers; 30% is a cautious start"});
    r.steps.push_back({spec("finetune", {{"epochs", "2"}}),
                       "fine-tuning wins back the accuracy pruning loses (needs labeled --train-data)"});
    r.needs_training_data = true;
  } else if (sequence_model) {
    r.notes.push_back("structured pruning is not proposed: recurrent and attention layers lose accuracy quickly without long "
                      "retraining (prune-channels{granularity=head} exists for attention heads)");
  } else if (t.params < kMinParamsToPrune) {
    r.notes.push_back("structured pruning is not proposed: the model is small (" + std::to_string(t.params) + " parameters)");
  }
  if (t.sparsity > 0.5) r.notes.push_back("the weights are already " + percent(t.sparsity) + " zeros: pass sparse-storage stores them compactly");

  if (target == Target::kGpu) {
    if (t.half) {
      r.notes.push_back("the weights are already 16-bit: no float conversion proposed");
    } else {
      r.steps.push_back({spec("convert-float", {{"type", "fp16"}}),
                         "GPUs compute fp16 at several times their fp32 rate and it halves the file; ops that overflow or need "
                         "precision stay fp32 (docs/float_conversion.md)"});
    }
    r.notes.push_back("int8 on GPUs needs the runtime's own calibration (TensorRT); fp16 is the safe default");
    return r;
  }
  if (t.conv + t.linear == 0) {
    r.notes.push_back("no Conv/Gemm/MatMul with constant weights: nothing for int8 quantization to act on");
    return r;
  }
  if (sequence_model) {
    r.steps.push_back({spec("quantize-dynamic"),
                       "recurrent/attention activations change range with every input: dynamic int8 quantizes the MatMul/Gemm "
                       "weights and computes activation scales at run time (as ONNX Runtime's quantize_dynamic); no calibration "
                       "data needed"});
    if (t.recurrent > 0) r.notes.push_back("LSTM/GRU/RNN nodes stay float32 (dynamic int8 covers MatMul/Gemm)");
    return r;
  }
  const bool dot_product = target == Target::kCpuAvx512 || target == Target::kArm64;
  std::map<std::string, std::string> options;
  if (dot_product) options["reduce_range"] = "false";
  r.steps.push_back({spec("quantize", options),
                     std::string("static int8 (QDQ): weights per channel, activations calibrated; about 4x smaller and faster "
                                 "integer kernels; ") +
                         (dot_product ? "this target has int8 dot products (VNNI / ARM dotprod), so full-range weights are exact"
                                      : "without VNNI, 7-bit weights keep ONNX Runtime's u8s8 AVX2 kernels exact")});
  r.needs_calibration_data = true;
  if (t.depthwise > 0)
    r.notes.push_back(std::to_string(t.depthwise) + " depthwise convolutions: per-channel weights handle their spread; for "
                      "per-tensor targets add cross-layer-equalization before quantize");
  return r;
}

std::string recipeYaml(const Recommendation& r, const std::string& model_name) {
  std::string y = "# nncompress recipe for " + model_name + ", target " + targetName(r.target) + " (written by nncompress recommend)\n";
  if (r.needs_calibration_data || r.needs_training_data) {
    y += "# run with: nncompress pipeline MODEL -o OUT --recipe THIS --data EVAL [--labels L]";
    if (r.needs_calibration_data) y += " --calib-data C";
    if (r.needs_training_data) y += " --train-data T --train-labels TL";
    y += "\n";
  }
  y += "passes:\n";
  for (const RecipeStep& step : r.steps) {
    y += "  # " + step.reason + "\n  - " + step.pass.name;
    if (!step.pass.options.empty()) {
      y += ": {";
      bool first = true;
      for (const auto& [key, value] : step.pass.options) {
        y += (first ? "" : ", ") + key + ": " + value;
        first = false;
      }
      y += "}";
    }
    y += "\n";
  }
  for (const std::string& note : r.notes) y += "# note: " + note + "\n";
  return y;
}

}  // namespace nnc

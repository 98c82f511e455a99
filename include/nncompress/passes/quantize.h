// Static int8 quantization to the QDQ format (QuantizeLinear/DequantizeLinear pairs around the
// quantized ops), as consumed by ONNX Runtime, TensorRT and OpenVINO. See docs/quantization.md.
//   - Conv, ConvTranspose, Gemm, MatMul, Add, Mul, Concat, AveragePool, GlobalAveragePool:
//     activation inputs get Q/DQ with the calibrated range; constant inputs become int8
//     (symmetric; per output channel for Conv/ConvTranspose/Gemm/MatMul weights unless
//     per_channel is false); Conv/ConvTranspose/Gemm biases become int32 with scale s_x*s_w.
//   - MaxPool and Resize: quantized input, output shares the input's scale.
//   - Shape ops (Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Slice, Gather, ...): quantized
//     when their input is, sharing its scale.
//   - Relu/Clip read only by quantized nodes are removed; their input takes their range, so the
//     clamp happens in QuantizeLinear.
//   - Everything else (Softmax, LayerNormalization, ...) stays float.
#pragma once

#include <string>
#include <vector>

#include "nncompress/analysis/calibration.h"
#include "nncompress/passes/pass.h"

namespace nnc {

struct QuantizeOptions {
  bool per_channel = true;
  DType activation_type = DType::kUInt8;  // kUInt8 or kInt8 (asymmetric either way)
  // Weights over [-63, 63] instead of [-127, 127]. x86 int8 kernels without VNNI (ONNX
  // Runtime's on AVX2/AVX-512) add pairs of uint8*int8 products in int16, which saturates with
  // full-range weights (2*255*127 > 32767) and silently changes results; 7-bit weights cannot.
  bool reduce_range = true;
  // Glob patterns (fnmatch) matched against node names and op types: matching nodes stay float.
  std::vector<std::string> exclude;
};

// Rewrites `model` into QDQ form with the given ranges (their float_nodes are excluded too).
// Per-channel weights need opset 13 (per-axis DequantizeLinear), per-tensor ones 10: an older
// model is raised to 13 (or 11) first where that keeps every op's meaning (opset_upgrade.h;
// stats "opset_upgrade"), else refused. Records nothing in metadata (the quantize pass does).
Expected<PassResult> quantizeQdq(Model& model, const ActivationRanges& ranges, const QuantizeOptions& options);

// Records the tool version, the options and the calibration digest in metadata_props
// (keys nncompress.version, nncompress.quantize, nncompress.calibration_digest).
void recordInMetadata(Model& model, const ActivationRanges& ranges, const QuantizeOptions& options);

// Whether the quantize pass considers the node (a compute or same-scale op of its rule table,
// e.g. Conv, Gemm, MatMul, Add, pools; shape ops only follow their input).
bool isQuantizableOp(const Node& node);

// Whether a node matches one of the glob patterns (by name or op type).
bool matchesAnyPattern(const Node& node, const std::vector<std::string>& patterns);

}  // namespace nnc

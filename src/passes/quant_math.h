// Numerics of int8 quantization shared by the quantize passes: activation scale/zero point from
// a calibrated range, symmetric weight quantization (per tensor or per channel) and int32 bias
// quantization with scale s_x * s_w. Rounding is half to even, as ONNX QuantizeLinear does.
#pragma once

#include <cstdint>
#include <vector>

#include "nncompress/ir/tensor.h"

namespace nnc::quant {

// Per-tensor parameters of a quantized activation.
struct ActivationParams {
  float scale = 1;
  int32_t zero_point = 0;
  DType type = DType::kUInt8;  // kUInt8 or kInt8
};

// Asymmetric parameters covering [min, max] extended to include 0 (so that 0 and ReLU's
// clamp are exact): scale = (max - min) / 255, zero point = round(qmin - min / scale).
// A range of zero width gets scale 1.
ActivationParams activationParams(float min, float max, DType type);

// The float interval [scale*(qmin-zp), scale*(qmax-zp)] that the parameters can represent.
void representableRange(const ActivationParams& p, double* low, double* high);

// A weight quantized to int8 with symmetric scales (zero point 0) over [-qmax, qmax]:
// scale = max|w| / qmax per slice along `axis`, or over the whole tensor when axis < 0.
// All-zero slices get scale 1. qmax is 127, or 63 for the reduced (7-bit) range.
struct QuantizedWeight {
  Tensor values;              // int8, the weight's shape
  std::vector<float> scales;  // one per slice along axis, or one
  int64_t axis = -1;
};
QuantizedWeight quantizeWeight(const Tensor& weight, int64_t axis, int qmax = 127);

// A bias quantized to int32 with scale input_scale * weight_scales[c] (one weight scale, or
// one per element), saturating at the int32 limits. `clipped` counts saturated elements.
struct QuantizedBias {
  Tensor values;  // int32, the bias's shape
  std::vector<float> scales;
  int64_t clipped = 0;
};
QuantizedBias quantizeBias(const Tensor& bias, float input_scale, const std::vector<float>& weight_scales);

}  // namespace nnc::quant

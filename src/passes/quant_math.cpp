// Quantization numerics (see quant_math.h).
#include "quant_math.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nnc::quant {
namespace {

void limits(DType type, int32_t* qmin, int32_t* qmax) {
  NNC_ENFORCE(type == DType::kUInt8 || type == DType::kInt8, "activation type must be uint8 or int8");
  *qmin = type == DType::kUInt8 ? 0 : -128;
  *qmax = type == DType::kUInt8 ? 255 : 127;
}

}  // namespace

ActivationParams activationParams(float min, float max, DType type) {
  int32_t qmin = 0, qmax = 0;
  limits(type, &qmin, &qmax);
  const double lo = std::min(0.0, static_cast<double>(min)), hi = std::max(0.0, static_cast<double>(max));
  ActivationParams p;
  p.type = type;
  p.scale = static_cast<float>((hi - lo) / static_cast<double>(qmax - qmin));
  if (!(p.scale > 0) || !std::isfinite(p.scale)) p.scale = 1;
  // Zero point from the float32 scale actually stored, so that 0 maps exactly to it.
  const double zp = std::nearbyint(static_cast<double>(qmin) - lo / static_cast<double>(p.scale));
  p.zero_point = static_cast<int32_t>(std::clamp(zp, static_cast<double>(qmin), static_cast<double>(qmax)));
  return p;
}

void representableRange(const ActivationParams& p, double* low, double* high) {
  int32_t qmin = 0, qmax = 0;
  limits(p.type, &qmin, &qmax);
  *low = static_cast<double>(p.scale) * (qmin - p.zero_point);
  *high = static_cast<double>(p.scale) * (qmax - p.zero_point);
}

QuantizedWeight quantizeWeight(const Tensor& weight, int64_t axis, int qmax) {
  NNC_ENFORCE(qmax > 0 && qmax <= 127, "weight range must be within int8");
  NNC_ENFORCE(weight.dtype == DType::kFloat, "weights to quantize must be float32");
  NNC_ENFORCE(axis < static_cast<int64_t>(weight.shape.size()), "quantization axis out of range");
  const float* w = weight.dataAs<float>();
  const int64_t count = weight.elementCount();
  // View the weight as [outer, channels, inner] around the axis (channels = 1 per tensor).
  int64_t channels = 1, inner = 1;
  if (axis >= 0) {
    channels = weight.shape[static_cast<size_t>(axis)];
    for (size_t d = static_cast<size_t>(axis) + 1; d < weight.shape.size(); ++d) inner *= weight.shape[d];
  } else {
    inner = count;
  }
  const int64_t outer = channels * inner == 0 ? 0 : count / (channels * inner);
  std::vector<float> max_abs(static_cast<size_t>(channels), 0.0f);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i)
        max_abs[static_cast<size_t>(c)] = std::max(max_abs[static_cast<size_t>(c)], std::fabs(w[(o * channels + c) * inner + i]));
  QuantizedWeight q;
  q.axis = axis;
  for (float m : max_abs) q.scales.push_back(m > 0 && std::isfinite(m) ? m / static_cast<float>(qmax) : 1.0f);
  uint8_t* data = nullptr;
  q.values = Tensor::uninitialized(DType::kInt8, weight.shape, &data);
  auto* out = reinterpret_cast<int8_t*>(data);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const double scale = q.scales[static_cast<size_t>(c)];
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = (o * channels + c) * inner + i;
        out[k] = static_cast<int8_t>(std::clamp(std::nearbyint(static_cast<double>(w[k]) / scale), -static_cast<double>(qmax), static_cast<double>(qmax)));
      }
    }
  return q;
}

QuantizedBias quantizeBias(const Tensor& bias, float input_scale, const std::vector<float>& weight_scales) {
  NNC_ENFORCE(bias.dtype == DType::kFloat, "bias to quantize must be float32");
  const int64_t count = bias.elementCount();
  NNC_ENFORCE(weight_scales.size() == 1 || static_cast<int64_t>(weight_scales.size()) == count,
              "bias needs one weight scale or one per element");
  QuantizedBias q;
  for (float s : weight_scales) q.scales.push_back(input_scale * s);
  uint8_t* data = nullptr;
  q.values = Tensor::uninitialized(DType::kInt32, bias.shape, &data);
  auto* out = reinterpret_cast<int32_t*>(data);
  const float* b = bias.dataAs<float>();
  constexpr double kMin = std::numeric_limits<int32_t>::min(), kMax = std::numeric_limits<int32_t>::max();
  for (int64_t i = 0; i < count; ++i) {
    const double scale = q.scales[q.scales.size() == 1 ? 0 : static_cast<size_t>(i)];
    double v = std::nearbyint(static_cast<double>(b[i]) / scale);
    if (v < kMin || v > kMax || !std::isfinite(v)) {
      ++q.clipped;
      v = std::isnan(v) ? 0 : std::clamp(v, kMin, kMax);
    }
    out[i] = static_cast<int32_t>(v);
  }
  return q;
}

}  // namespace nnc::quant

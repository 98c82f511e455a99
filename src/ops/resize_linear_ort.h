// Bilinear and trilinear Resize computed exactly as ONNX Runtime's CPU kernel does: float coordinates
// and weights, and one 2-D (or 3-D) pass whose terms are summed in ORT's order
// (dx2*dy2*X11 + dx1*dy2*X21 + dx2*dy1*X12 + dx1*dy1*X22). The separable double-precision path in
// resize.cpp agrees with it to ~1 ulp, but models that quantize right after a Resize
// (DynamicQuantizeLinear) turn 1-ulp differences into whole quantization steps, so the shapes ORT
// routes to this kernel (rank 2; rank 4 NCHW or NHWC; rank 3; rank 5 NCDHW) are computed here.
// This file is compiled with -ffp-contract=off: a fused multiply-add would round differently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nnc::ops {

// What the coordinate transform needs: the mode name and, for tf_crop_and_resize, the extrapolation.
struct OrtLinearSpec {
  std::string coord = "half_pixel";  // coordinate_transformation_mode (Upsample / Resize-10: asymmetric)
  bool extrapolate = false;          // tf_crop_and_resize: outside [0, in-1] gives `extrapolation`
  float extrapolation = 0.0f;
};

// The resized axes of an ORT bilinear/trilinear call: `axes` (2 or 3, outermost first) with the
// product of the dims before them (`outer`) and after them (`inner`: 1 for NCHW, C for NHWC).
struct OrtLinearLayout {
  std::vector<size_t> axes;
  int64_t outer = 1;
  int64_t inner = 1;
};

// The layout ORT's CPU kernel uses for linear mode on this shape and these scales, or no axes when
// ORT has no such kernel (other ranks, or scales != 1 on batch/channel dims).
OrtLinearLayout ortLinearLayout(const std::vector<int64_t>& in_shape, const std::vector<float>& scales);

// Resizes `x` (in_shape) into `y` (out_shape) along layout.axes. scales and roi (2*rank values,
// starts then ends) are per input axis, as ORT sees them (float). `lengths` is the resized length
// the coordinate transforms use per axis: ORT uses the output length; the ONNX reference (and so
// the conformance tests) uses the unrounded in * scale, which differs only when that is fractional.
// T: float, int8, uint8, int32 (integers are computed in float and truncated, as ORT's cast does).
template <typename T>
void ortLinearResize(const T* x, T* y, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape,
                     const OrtLinearLayout& layout, const std::vector<float>& scales, const std::vector<float>& lengths,
                     const std::vector<float>& roi, const OrtLinearSpec& spec);

}  // namespace nnc::ops

// Names of the kernels the session runs fused QDQ groups with (runtime/qdq_fusion.h). They live in
// a private domain: no model can name them, and they exist only inside a Session's plan.
// Inputs, as QLinearConv / QLinearMatMul: x, x_scale, x_zero_point, w, w_scale, w_zero_point,
// y_scale, y_zero_point[, bias int32]; attributes: the Conv's, plus "relu" (1: a Relu was fused).
#pragma once

namespace nnc::ops {

inline constexpr const char* kQdqDomain = "ai.nncompress.internal";
inline constexpr const char* kQdqConvOp = "QdqConv";
inline constexpr const char* kQdqMatMulOp = "QdqMatMul";

}  // namespace nnc::ops

// Names of the kernels the session runs fused QDQ groups with (runtime/qdq_fusion.h). They live in
// a private domain: no model can name them, and they exist only inside a Session's plan.
// Inputs, as QLinearConv / QLinearMatMul: x, x_scale, x_zero_point, w, w_scale, w_zero_point,
// y_scale, y_zero_point[, bias int32[, C float]]; attributes: the op's (Conv's; Gemm's alpha, beta,
// transB), "relu" (1: a Relu was fused) and "packed_w" (the weights packed for qgemm_u8s8.h, when
// the fusion could pack them). Without y_scale (QdqMatMul, QdqGemm) the output is float.
// QdqBinary: a_q, a_scale, a_zp, b_q, b_scale, b_zp[, y_scale, y_zp], attribute "mul": the float
// DQ -> Add/Mul [-> Q] arithmetic in one pass (qdq_elementwise.cpp).
#pragma once

#include "nncompress/runtime/kernel.h"

namespace nnc::ops {

struct PackedWeights;

inline constexpr const char* kQdqDomain = "ai.nncompress.internal";
inline constexpr const char* kQdqConvOp = "QdqConv";
inline constexpr const char* kQdqMatMulOp = "QdqMatMul";
inline constexpr const char* kQdqGemmOp = "QdqGemm";
inline constexpr const char* kQdqBinaryOp = "QdqBinary";
inline constexpr const char* kPackedWeightsAttr = "packed_w";

// The kernels on packed weights (qdq_kernels.cpp): Conv, and MatMul / Gemm (gemm: alpha, beta, C).
Status qdqConvPacked(KernelContext& ctx, const PackedWeights& w);
Status qdqRowsPacked(KernelContext& ctx, const PackedWeights& w, bool gemm);
Status qdqBinary(KernelContext& ctx);

}  // namespace nnc::ops

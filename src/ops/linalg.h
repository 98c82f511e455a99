// The linalg op family (matrix products, softmax, reductions, arg/top-k, cumulative sums,
// einsum, determinant): one register function per file, all called by registerLinalgOps.
#pragma once

#include "nncompress/runtime/kernel.h"

namespace nnc::ops::linalg {

void registerMatmulOps(OpRegistry& registry);   // linalg_matmul.cpp: MatMul, Gemm
void registerSoftmaxOps(OpRegistry& registry);  // linalg_softmax.cpp: Softmax, LogSoftmax, Hardmax
void registerReduceOps(OpRegistry& registry);   // linalg_reduce.cpp: Reduce*
void registerArgTopKOps(OpRegistry& registry);  // linalg_argtopk.cpp: ArgMax, ArgMin, TopK
void registerCumSumOps(OpRegistry& registry);   // linalg_cumsum.cpp: CumSum
void registerEinsumOps(OpRegistry& registry);   // linalg_einsum.cpp: Einsum
void registerDetOps(OpRegistry& registry);      // linalg_det.cpp: Det

}  // namespace nnc::ops::linalg

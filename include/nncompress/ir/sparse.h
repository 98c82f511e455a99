// Dense <-> sparse (ONNX COO) conversion of constant tensors: the runtime densifies sparse
// initializers when it loads a model; the sparse-storage pass writes pruned weights sparse.
#pragma once

#include "nncompress/ir/tensor.h"

namespace nnc {

// The dense tensor of an ONNX SparseTensorProto: zeros except at the indices. Indices are int64
// (int8/16/32 accepted too), either linearized [NNZ] or coordinates [NNZ, rank]. Errors (bad
// shapes, indices out of range, unsupported element type) name nothing: callers add the tensor.
Expected<Tensor> densify(const SparseTensor& sparse);

// The sparse form of a dense tensor: its nonzero elements (bitwise: -0.0 counts as nonzero so
// densify() gives back the same bytes) with linearized int64 indices [NNZ] in ascending order,
// the layout the ONNX checker and ONNX Runtime accept. Not for string or sub-byte types.
SparseTensor sparsify(const Tensor& dense);

// Bytes of tensor data in the sparse form of `dense` (values + int64 indices), without building it.
uint64_t sparseStorageBytes(const Tensor& dense);

}  // namespace nnc

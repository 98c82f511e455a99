// Dense <-> sparse conversion (see sparse.h).
#include "nncompress/ir/sparse.h"

#include <cstring>

namespace nnc {
namespace {

// Index `i` of an index tensor of any supported integer type, widened to int64.
int64_t indexAt(const Tensor& indices, int64_t i) {
  switch (indices.dtype) {
    case DType::kInt8: return indices.dataAs<int8_t>()[i];
    case DType::kInt16: {
      int16_t v;
      std::memcpy(&v, indices.bytes() + 2 * i, 2);
      return v;
    }
    case DType::kInt32: {
      int32_t v;
      std::memcpy(&v, indices.bytes() + 4 * i, 4);
      return v;
    }
    default: {
      int64_t v;
      std::memcpy(&v, indices.bytes() + 8 * i, 8);
      return v;
    }
  }
}

bool isNonzero(const uint8_t* element, size_t bytes) {
  for (size_t b = 0; b < bytes; ++b)
    if (element[b] != 0) return true;
  return false;
}

}  // namespace

Expected<Tensor> densify(const SparseTensor& sparse) {
  const DType dtype = sparse.values.dtype;
  const int bits = dtypeBits(dtype);
  if (bits < 8 || bits % 8 != 0) return unsupported("sparse tensor of type " + dtypeName(dtype) + " is not supported");
  const size_t element_bytes = static_cast<size_t>(bits / 8);
  NNC_ASSIGN_OR_RETURN(int64_t dense_count, checkedElementCount(sparse.dims));
  NNC_ASSIGN_OR_RETURN(int64_t nnz, checkedElementCount(sparse.values.shape));
  if (sparse.values.shape.size() != 1) return invalidModel("sparse values must be 1-D");
  if (sparse.values.byteSize() != static_cast<size_t>(nnz) * element_bytes) return invalidModel("sparse values have the wrong size");
  const Tensor& indices = sparse.indices;
  if (indices.dtype != DType::kInt64 && indices.dtype != DType::kInt32 && indices.dtype != DType::kInt16 &&
      indices.dtype != DType::kInt8)
    return invalidModel("sparse indices must be integers, got " + dtypeName(indices.dtype));
  NNC_ASSIGN_OR_RETURN(int64_t index_count, checkedElementCount(indices.shape));
  if (indices.byteSize() != dtypeStorageBytes(indices.dtype, static_cast<uint64_t>(index_count)))
    return invalidModel("sparse indices have the wrong size");
  const bool linear = indices.shape.size() == 1;
  const int64_t rank = static_cast<int64_t>(sparse.dims.size());
  if (!(linear && index_count == nnz) && !(indices.shape.size() == 2 && indices.shape[0] == nnz && indices.shape[1] == rank))
    return invalidModel("sparse indices must have shape [NNZ] or [NNZ, rank]");
  uint8_t* out = nullptr;
  Tensor dense = Tensor::zeros(dtype, sparse.dims, &out);
  for (int64_t k = 0; k < nnz; ++k) {
    int64_t position = 0;
    if (linear) {
      position = indexAt(indices, k);
    } else {
      for (int64_t d = 0; d < rank; ++d) {
        const int64_t coordinate = indexAt(indices, k * rank + d);
        if (coordinate < 0 || coordinate >= sparse.dims[static_cast<size_t>(d)])
          return invalidModel("sparse index " + std::to_string(coordinate) + " is out of range");
        position = position * sparse.dims[static_cast<size_t>(d)] + coordinate;
      }
    }
    if (position < 0 || position >= dense_count) return invalidModel("sparse index " + std::to_string(position) + " is out of range");
    std::memcpy(out + static_cast<size_t>(position) * element_bytes, sparse.values.bytes() + static_cast<size_t>(k) * element_bytes,
                element_bytes);
  }
  return dense;
}

SparseTensor sparsify(const Tensor& dense) {
  const int bits = dtypeBits(dense.dtype);
  NNC_ENFORCE(bits >= 8 && bits % 8 == 0 && dense.dtype != DType::kString, "sparsify: unsupported type " + dtypeName(dense.dtype));
  const size_t element_bytes = static_cast<size_t>(bits / 8);
  const int64_t n = dense.elementCount();
  std::vector<int64_t> positions;
  for (int64_t i = 0; i < n; ++i)
    if (isNonzero(dense.bytes() + static_cast<size_t>(i) * element_bytes, element_bytes)) positions.push_back(i);
  const int64_t nnz = static_cast<int64_t>(positions.size());
  SparseTensor sparse;
  sparse.dims = dense.shape;
  uint8_t* values = nullptr;
  sparse.values = Tensor::uninitialized(dense.dtype, {nnz}, &values);
  for (int64_t k = 0; k < nnz; ++k)
    std::memcpy(values + static_cast<size_t>(k) * element_bytes, dense.bytes() + static_cast<size_t>(positions[k]) * element_bytes,
                element_bytes);
  sparse.indices = Tensor::fromValues(DType::kInt64, {nnz}, positions);
  return sparse;
}

uint64_t sparseStorageBytes(const Tensor& dense) {
  const int bits = dtypeBits(dense.dtype);
  if (bits < 8 || bits % 8 != 0 || dense.dtype == DType::kString) return UINT64_MAX;
  const size_t element_bytes = static_cast<size_t>(bits / 8);
  const int64_t n = dense.elementCount();
  uint64_t nnz = 0;
  for (int64_t i = 0; i < n; ++i) nnz += isNonzero(dense.bytes() + static_cast<size_t>(i) * element_bytes, element_bytes);
  return nnz * (element_bytes + sizeof(int64_t));
}

}  // namespace nnc

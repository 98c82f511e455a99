// A strided copy into a permuted contiguous layout, for kernels of the linalg family that bring
// axes together before a contiguous pass (Reduce*, Einsum).
#pragma once

#include <cstdint>
#include <vector>

#include "op_util.h"

namespace nnc::ops::linalg {

// out (contiguous, shape[perm[0]], shape[perm[1]], ...) = in (contiguous, shape) with axes permuted.
template <typename T>
void transposeCopy(const T* in, const std::vector<int64_t>& shape, const std::vector<size_t>& perm, T* out) {
  const size_t rank = shape.size();
  std::vector<int64_t> in_strides(rank, 1);
  for (size_t d = rank; d-- > 1;) in_strides[d - 1] = in_strides[d] * shape[d];
  std::vector<int64_t> out_shape(rank), strides(rank);
  for (size_t d = 0; d < rank; ++d) {
    out_shape[d] = shape[perm[d]];
    strides[d] = in_strides[perm[d]];
  }
  const int64_t total = product(shape);
  if (total == 0) return;
  if (rank == 0) {
    out[0] = in[0];
    return;
  }
  // The innermost output axis runs as a tight strided loop; the outer ones as an odometer.
  const int64_t inner = out_shape[rank - 1], inner_stride = strides[rank - 1];
  const int64_t rows = total / inner;
  std::vector<int64_t> index(rank, 0);
  int64_t offset = 0;
  for (int64_t r = 0; r < rows; ++r) {
    T* o = out + r * inner;
    const T* p = in + offset;
    if (inner_stride == 1)
      for (int64_t j = 0; j < inner; ++j) o[j] = p[j];
    else
      for (int64_t j = 0; j < inner; ++j) o[j] = p[j * inner_stride];
    for (size_t d = rank - 1; d-- > 0;) {
      offset += strides[d];
      if (++index[d] < out_shape[d]) break;
      offset -= strides[d] * out_shape[d];
      index[d] = 0;
    }
  }
}

}  // namespace nnc::ops::linalg

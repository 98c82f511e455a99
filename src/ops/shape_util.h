// Helpers shared by the shape/data-movement kernels (shape_*.cpp): element sizes for moving
// any dtype as raw bytes, a strided copy that powers Transpose/Slice/Expand/Tile/DepthToSpace,
// reading int shape inputs with errors that name the node, and encoding scalars of any dtype.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op_util.h"

namespace nnc::ops::shape {

// Bytes per element for dtypes moved as raw bytes; 0 for strings, sub-byte and unknown types.
size_t elementBytes(DType dtype);
// elementBytes, or an "unsupported" error naming the node.
Expected<size_t> movableBytes(const KernelContext& ctx, const Tensor& t);

// A tensor of `shape` whose data is bytes [offset, offset + size) of `t`'s buffer, without a copy
// (the view keeps the whole buffer alive). Offsets are multiples of the element size, so
// elements stay naturally aligned.
Tensor viewOf(const Tensor& t, std::vector<int64_t> shape, size_t offset);

// Row-major strides (in elements) of a shape.
std::vector<int64_t> contiguousStrides(const std::vector<int64_t>& shape);

// Copies elements of `esize` bytes: for every index i of `shape`,
// out[sum i_d * ostrides_d] = in[sum i_d * istrides_d] (strides in elements, may be 0 on input).
// Merges adjacent dims, uses memcpy for contiguous rows and tiles 2D transposes; OpenMP when big.
void copyStrided(const uint8_t* in, uint8_t* out, size_t esize, std::vector<int64_t> shape, std::vector<int64_t> istrides,
                 std::vector<int64_t> ostrides);
// Same with a contiguous output.
void copyStrided(const uint8_t* in, uint8_t* out, size_t esize, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& istrides);

// Calls fn(T{}) with an unsigned type of `size` bytes (1, 2, 4, 8; 16 as a two-word struct).
struct Bytes16 {
  uint64_t lo, hi;
};
template <typename F>
bool dispatchBySize(size_t size, F&& fn) {
  switch (size) {
    case 1: fn(uint8_t{}); return true;
    case 2: fn(uint16_t{}); return true;
    case 4: fn(uint32_t{}); return true;
    case 8: fn(uint64_t{}); return true;
    case 16: fn(Bytes16{}); return true;
    default: return false;
  }
}

// The int64/int32 values of an input, with errors naming the node.
Expected<std::vector<int64_t>> readIntsOf(const KernelContext& ctx, const Tensor& t, const std::string& what);
// A scalar (or 1-element) int input as int64.
Expected<int64_t> readScalarInt(const KernelContext& ctx, const Tensor& t, const std::string& what);

// Writes `value` as one element of `dtype` (numeric, bool, float16, bfloat16); false otherwise.
bool encodeScalar(DType dtype, double value, uint8_t* out);

// Validates a shape computed from model data (no negative dims, no int64 overflow, not absurdly
// large) before allocating it.
Status checkShape(const KernelContext& ctx, const std::vector<int64_t>& shape, size_t esize);

// Fills `count` elements of `esize` bytes with the element at `value`.
void fillElements(uint8_t* out, const uint8_t* value, size_t esize, int64_t count);

// Registration of the files of the family (called by registerShapeOps).
void registerLayoutOps(OpRegistry& registry);
void registerSliceOps(OpRegistry& registry);
void registerGatherScatterOps(OpRegistry& registry);
void registerMiscOps(OpRegistry& registry);

}  // namespace nnc::ops::shape

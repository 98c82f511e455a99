// Helpers for kernels: typed allocation, dtype dispatch, broadcasting, reading shape tensors,
// axis normalization, and parallel loops. Internal to src/ops.
#pragma once

#include <omp.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "nncompress/ir/half.h"
#include "nncompress/runtime/kernel.h"
#include "parallel.h"

namespace nnc::ops {

// A tensor with fresh, uninitialized storage and a typed pointer: the kernel writes every element.
template <typename T>
Tensor allocate(DType dtype, const std::vector<int64_t>& shape, T** data) {
  uint8_t* raw = nullptr;
  Tensor t = Tensor::uninitialized(dtype, shape, &raw);
  *data = reinterpret_cast<T*>(raw);
  return t;
}

// The C++ type that holds one element of a DType (bool as uint8_t, 16-bit floats as their bits).
template <DType D> struct CType;
template <> struct CType<DType::kFloat> { using type = float; };
template <> struct CType<DType::kDouble> { using type = double; };
template <> struct CType<DType::kInt8> { using type = int8_t; };
template <> struct CType<DType::kUInt8> { using type = uint8_t; };
template <> struct CType<DType::kInt16> { using type = int16_t; };
template <> struct CType<DType::kUInt16> { using type = uint16_t; };
template <> struct CType<DType::kInt32> { using type = int32_t; };
template <> struct CType<DType::kUInt32> { using type = uint32_t; };
template <> struct CType<DType::kInt64> { using type = int64_t; };
template <> struct CType<DType::kUInt64> { using type = uint64_t; };
template <> struct CType<DType::kBool> { using type = uint8_t; };
template <> struct CType<DType::kFloat16> { using type = uint16_t; };
template <> struct CType<DType::kBFloat16> { using type = uint16_t; };

// The DType of a C++ element type (float, double, intN_t, uintN_t).
template <typename T> constexpr DType dtypeOf();
template <> constexpr DType dtypeOf<float>() { return DType::kFloat; }
template <> constexpr DType dtypeOf<double>() { return DType::kDouble; }
template <> constexpr DType dtypeOf<int8_t>() { return DType::kInt8; }
template <> constexpr DType dtypeOf<uint8_t>() { return DType::kUInt8; }
template <> constexpr DType dtypeOf<int16_t>() { return DType::kInt16; }
template <> constexpr DType dtypeOf<uint16_t>() { return DType::kUInt16; }
template <> constexpr DType dtypeOf<int32_t>() { return DType::kInt32; }
template <> constexpr DType dtypeOf<uint32_t>() { return DType::kUInt32; }
template <> constexpr DType dtypeOf<int64_t>() { return DType::kInt64; }
template <> constexpr DType dtypeOf<uint64_t>() { return DType::kUInt64; }

// Calls fn(T{}) with T the C++ type of a real-number dtype (float, double, all ints).
// Returns false for other dtypes (bool, strings, 16-bit floats, ...).
template <typename F>
bool dispatchNumeric(DType dtype, F&& fn) {
  switch (dtype) {
    case DType::kFloat: fn(float{}); return true;
    case DType::kDouble: fn(double{}); return true;
    case DType::kInt8: fn(int8_t{}); return true;
    case DType::kUInt8: fn(uint8_t{}); return true;
    case DType::kInt16: fn(int16_t{}); return true;
    case DType::kUInt16: fn(uint16_t{}); return true;
    case DType::kInt32: fn(int32_t{}); return true;
    case DType::kUInt32: fn(uint32_t{}); return true;
    case DType::kInt64: fn(int64_t{}); return true;
    case DType::kUInt64: fn(uint64_t{}); return true;
    default: return false;
  }
}

// Like dispatchNumeric, for float and double only.
template <typename F>
bool dispatchFloat(DType dtype, F&& fn) {
  switch (dtype) {
    case DType::kFloat: fn(float{}); return true;
    case DType::kDouble: fn(double{}); return true;
    default: return false;
  }
}

// Numpy-style broadcast of several shapes; fails when two dims differ and neither is 1.
Expected<std::vector<int64_t>> broadcastShapes(const std::vector<std::vector<int64_t>>& shapes);

// For an input of `shape` broadcast to `out_shape`: the input's stride along each output axis
// (0 where the input is broadcast).
std::vector<int64_t> broadcastStrides(const std::vector<int64_t>& shape, const std::vector<int64_t>& out_shape);

// Element count of a shape (dims already validated).
int64_t product(const std::vector<int64_t>& shape, size_t begin = 0, size_t end = SIZE_MAX);

// Visits every output index of `out_shape` with the matching offsets of N broadcast inputs:
// fn(out_index, offsets). Contiguous same-shape inputs should use a direct loop instead.
template <size_t N, typename F>
void forEachBroadcast(const std::vector<int64_t>& out_shape, const std::array<std::vector<int64_t>, N>& strides, F&& fn) {
  const size_t rank = out_shape.size();
  const int64_t total = product(out_shape);
  if (total == 0) return;
  std::vector<int64_t> index(rank, 0);
  std::array<int64_t, N> offsets{};
  for (int64_t i = 0; i < total; ++i) {
    fn(i, offsets);
    for (size_t d = rank; d-- > 0;) {
      ++index[d];
      for (size_t k = 0; k < N; ++k) offsets[k] += strides[k][d];
      if (index[d] < out_shape[d]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= strides[k][d] * out_shape[d];
      index[d] = 0;
    }
  }
}

// Elementwise binary op with broadcasting: out[i] = fn(a[ia], b[ib]).
template <typename T, typename R, typename F>
Expected<Tensor> binaryBroadcast(const Tensor& a, const Tensor& b, DType out_type, F&& fn) {
  auto shape = broadcastShapes({a.shape, b.shape});
  if (!shape) return shape.status();
  R* out = nullptr;
  Tensor result = allocate<R>(out_type, *shape, &out);
  const T* pa = a.dataAs<T>();
  const T* pb = b.dataAs<T>();
  const int64_t n = product(*shape);
  const int64_t na = a.elementCount(), nb = b.elementCount();
  if (na == n && nb == n) {
    NNC_PARALLEL_FOR_IF(n > kMinParallelWork,
      for (int64_t i = 0; i < n; ++i) out[i] = fn(pa[i], pb[i]););
  } else if (nb == 1 && na == n) {
    const T v = pb[0];
    NNC_PARALLEL_FOR_IF(n > kMinParallelWork,
      for (int64_t i = 0; i < n; ++i) out[i] = fn(pa[i], v););
  } else if (na == 1 && nb == n) {
    const T v = pa[0];
    NNC_PARALLEL_FOR_IF(n > kMinParallelWork,
      for (int64_t i = 0; i < n; ++i) out[i] = fn(v, pb[i]););
  } else {
    std::array<std::vector<int64_t>, 2> strides{broadcastStrides(a.shape, *shape), broadcastStrides(b.shape, *shape)};
    forEachBroadcast<2>(*shape, strides, [&](int64_t i, const std::array<int64_t, 2>& off) { out[i] = fn(pa[off[0]], pb[off[1]]); });
  }
  return result;
}

// Elementwise unary op: out[i] = fn(in[i]).
template <typename T, typename R, typename F>
Tensor unaryMap(const Tensor& in, DType out_type, F&& fn) {
  R* out = nullptr;
  Tensor result = allocate<R>(out_type, in.shape, &out);
  const T* p = in.dataAs<T>();
  const int64_t n = in.elementCount();
  NNC_PARALLEL_FOR_IF(n > kMinParallelWork,
    for (int64_t i = 0; i < n; ++i) out[i] = fn(p[i]););
  return result;
}

// The values of an int64 or int32 tensor (shapes, axes, pads, ...).
Expected<std::vector<int64_t>> readInts(const Tensor& tensor, const std::string& what);
// The values of a float-typed tensor as double (any float or integer dtype).
Expected<std::vector<double>> readDoubles(const Tensor& tensor, const std::string& what);

// axis in [-rank, rank) -> [0, rank); fails otherwise.
Expected<int64_t> normalizeAxis(int64_t axis, int64_t rank);

// Copies a tensor's metadata and shares its buffer with a new shape (Reshape, Squeeze, ...).
Tensor reshaped(const Tensor& tensor, std::vector<int64_t> shape);

// A scalar float as the tensor's dtype would round it (for attributes like alpha).
std::string shapeToString(const std::vector<int64_t>& shape);

}  // namespace nnc::ops

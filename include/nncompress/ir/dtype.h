// Element types, numbered as ONNX's TensorProto.DataType (IR versions 3-11, so float8,
// int4/uint4 and float4 are known even though ONNX 1.12's headers stop at bfloat16).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace nnc {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kDouble = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUInt4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
};

// The DType for an ONNX data_type number, or nothing if the number is not a known type.
std::optional<DType> dtypeFromOnnx(int32_t value);

// ONNX's spelling: "float", "int64", "float16", "bfloat16", "float8e4m3fn", "int4", ...
std::string dtypeName(DType type);

// Bits per element: 4 for int4/uint4/float4, 0 for string and undefined.
int dtypeBits(DType type);

// Bytes needed to store `count` elements packed as ONNX raw_data does (4-bit types: two per byte).
uint64_t dtypeStorageBytes(DType type, uint64_t count);

bool isFloatingPoint(DType type);

}  // namespace nnc

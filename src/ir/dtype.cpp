// Element type table (see dtype.h).
#include "nncompress/ir/dtype.h"

namespace nnc {
namespace {

struct DTypeInfo {
  DType type;
  const char* name;
  int bits;
};

constexpr DTypeInfo kTable[] = {
    {DType::kUndefined, "undefined", 0},   {DType::kFloat, "float", 32},
    {DType::kUInt8, "uint8", 8},           {DType::kInt8, "int8", 8},
    {DType::kUInt16, "uint16", 16},        {DType::kInt16, "int16", 16},
    {DType::kInt32, "int32", 32},          {DType::kInt64, "int64", 64},
    {DType::kString, "string", 0},         {DType::kBool, "bool", 8},
    {DType::kFloat16, "float16", 16},      {DType::kDouble, "double", 64},
    {DType::kUInt32, "uint32", 32},        {DType::kUInt64, "uint64", 64},
    {DType::kComplex64, "complex64", 64},  {DType::kComplex128, "complex128", 128},
    {DType::kBFloat16, "bfloat16", 16},    {DType::kFloat8E4M3FN, "float8e4m3fn", 8},
    {DType::kFloat8E4M3FNUZ, "float8e4m3fnuz", 8}, {DType::kFloat8E5M2, "float8e5m2", 8},
    {DType::kFloat8E5M2FNUZ, "float8e5m2fnuz", 8}, {DType::kUInt4, "uint4", 4},
    {DType::kInt4, "int4", 4},             {DType::kFloat4E2M1, "float4e2m1", 4},
};

const DTypeInfo& info(DType type) {
  auto index = static_cast<size_t>(type);
  return index < std::size(kTable) ? kTable[index] : kTable[0];
}

}  // namespace

std::optional<DType> dtypeFromOnnx(int32_t value) {
  if (value < 0 || static_cast<size_t>(value) >= std::size(kTable)) return std::nullopt;
  return static_cast<DType>(value);
}

std::string dtypeName(DType type) {
  auto index = static_cast<size_t>(type);
  if (index >= std::size(kTable)) return "type" + std::to_string(static_cast<int32_t>(type));
  return kTable[index].name;
}

int dtypeBits(DType type) { return info(type).bits; }

uint64_t dtypeStorageBytes(DType type, uint64_t count) {
  int bits = dtypeBits(type);
  if (bits == 4) return (count + 1) / 2;
  return count * static_cast<uint64_t>(bits / 8);
}

bool isFloatingPoint(DType type) {
  switch (type) {
    case DType::kFloat: case DType::kFloat16: case DType::kDouble: case DType::kBFloat16:
    case DType::kFloat8E4M3FN: case DType::kFloat8E4M3FNUZ: case DType::kFloat8E5M2:
    case DType::kFloat8E5M2FNUZ: case DType::kFloat4E2M1:
      return true;
    default:
      return false;
  }
}

}  // namespace nnc

// Quantization helpers (see quant_util.h).
#include "quant_util.h"

namespace nnc::ops {

bool quantRange(DType type, int32_t* lo, int32_t* hi) {
  switch (type) {
    case DType::kInt4:
      *lo = -8;
      *hi = 7;
      return true;
    case DType::kUInt4:
      *lo = 0;
      *hi = 15;
      return true;
    case DType::kInt8:
      *lo = -128;
      *hi = 127;
      return true;
    case DType::kUInt8:
      *lo = 0;
      *hi = 255;
      return true;
    case DType::kInt16:
      *lo = -32768;
      *hi = 32767;
      return true;
    case DType::kUInt16:
      *lo = 0;
      *hi = 65535;
      return true;
    default:
      return false;
  }
}

int32_t intElement(const Tensor& t, int64_t i) {
  const uint8_t* p = t.bytes();
  switch (t.dtype) {
    case DType::kInt4: {
      const int v = (p[i / 2] >> ((i & 1) * 4)) & 0xF;
      return v >= 8 ? v - 16 : v;
    }
    case DType::kUInt4:
      return (p[i / 2] >> ((i & 1) * 4)) & 0xF;
    case DType::kInt8:
      return t.dataAs<int8_t>()[i];
    case DType::kUInt8:
      return p[i];
    case DType::kInt16:
      return t.dataAs<int16_t>()[i];
    case DType::kUInt16:
      return t.dataAs<uint16_t>()[i];
    case DType::kInt32:
      return t.dataAs<int32_t>()[i];
    default:
      return 0;
  }
}

std::vector<int32_t> intElements(const Tensor& t) {
  const int64_t n = t.elementCount();
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = intElement(t, i);
  return v;
}

Expected<std::vector<float>> floatElements(const Tensor& t, const std::string& what) {
  const int64_t n = t.elementCount();
  std::vector<float> v(static_cast<size_t>(n));
  if (t.dtype == DType::kFloat) {
    if (n) std::memcpy(v.data(), t.bytes(), static_cast<size_t>(n) * 4);
  } else if (t.dtype == DType::kDouble) {
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(t.dataAs<double>()[i]);
  } else if (t.dtype == DType::kInt32) {
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(t.dataAs<int32_t>()[i]);
  } else {
    return unsupported(what + " of type " + dtypeName(t.dtype) + " is not supported");
  }
  return v;
}

Tensor packInt4(DType type, const std::vector<int64_t>& shape, const int8_t* values, int64_t n) {
  uint8_t* out = nullptr;
  Tensor t = Tensor::zeros(type, shape, &out);
  for (int64_t i = 0; i < n; ++i) out[i / 2] |= static_cast<uint8_t>((values[i] & 0xF) << ((i & 1) * 4));
  return t;
}

}  // namespace nnc::ops

namespace nnc::ops {

void registerQuantizeLinearOps(OpRegistry& registry);
void registerIntegerOps(OpRegistry& registry);
void registerQLinearOps(OpRegistry& registry);
void registerQLinearMsOps(OpRegistry& registry);

// The quantization family's one entry in registry.cpp.
void registerQuantOps(OpRegistry& registry) {
  registerQuantizeLinearOps(registry);
  registerIntegerOps(registry);
  registerQLinearOps(registry);
  registerQLinearMsOps(registry);
}

}  // namespace nnc::ops

// Kernel helpers (see op_util.h).
#include "op_util.h"

#include <array>

namespace nnc::ops {

Expected<std::vector<int64_t>> broadcastShapes(const std::vector<std::vector<int64_t>>& shapes) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  std::vector<int64_t> out(rank, 1);
  for (const auto& s : shapes) {
    const size_t offset = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[offset + i];
      if (s[i] == o || s[i] == 1) continue;
      if (o == 1) {
        o = s[i];
        continue;
      }
      std::string all;
      for (const auto& t : shapes) all += (all.empty() ? "" : " and ") + shapeToString(t);
      return invalidModel("shapes " + all + " cannot be broadcast");
    }
  }
  return out;
}

std::vector<int64_t> broadcastStrides(const std::vector<int64_t>& shape, const std::vector<int64_t>& out_shape) {
  std::vector<int64_t> strides(out_shape.size(), 0);
  int64_t stride = 1;
  const size_t offset = out_shape.size() - shape.size();
  for (size_t i = shape.size(); i-- > 0;) {
    strides[offset + i] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

int64_t product(const std::vector<int64_t>& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < shape.size() && i < end; ++i) p *= shape[i];
  return p;
}

Expected<std::vector<int64_t>> readInts(const Tensor& tensor, const std::string& what) {
  const int64_t n = tensor.elementCount();
  std::vector<int64_t> values(static_cast<size_t>(n));
  if (tensor.dtype == DType::kInt64) {
    if (n) std::memcpy(values.data(), tensor.bytes(), static_cast<size_t>(n) * 8);
  } else if (tensor.dtype == DType::kInt32) {
    const int32_t* p = tensor.dataAs<int32_t>();
    for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = p[i];
  } else {
    return invalidModel(what + " must be int64 or int32, got " + dtypeName(tensor.dtype));
  }
  return values;
}

Expected<std::vector<double>> readDoubles(const Tensor& tensor, const std::string& what) {
  const int64_t n = tensor.elementCount();
  std::vector<double> values(static_cast<size_t>(n));
  bool ok = dispatchNumeric(tensor.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* p = tensor.dataAs<T>();
    for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = static_cast<double>(p[i]);
  });
  if (!ok && tensor.dtype == DType::kFloat16) {
    for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = halfToFloat(tensor.dataAs<uint16_t>()[i]);
    ok = true;
  }
  if (!ok) return invalidModel(what + " has unsupported type " + dtypeName(tensor.dtype));
  return values;
}

Expected<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return invalidModel("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

Tensor reshaped(const Tensor& tensor, std::vector<int64_t> shape) {
  Tensor t = tensor;
  t.shape = std::move(shape);
  t.name.clear();
  return t;
}

std::string shapeToString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace nnc::ops

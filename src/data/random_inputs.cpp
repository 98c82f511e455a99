// Random inputs (see random_inputs.h).
#include "nncompress/data/random_inputs.h"

#include "nncompress/ir/half.h"

namespace nnc {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

Expected<std::vector<int64_t>> concreteShape(const Value& input, const RandomInputOptions& options) {
  if (input.type.kind != ValueType::Kind::kTensor) return unsupported("input '" + input.name() + "' is not a tensor");
  if (auto it = options.shapes.find(input.name()); it != options.shapes.end()) return it->second;
  if (!input.type.has_shape) return invalidArgument("input '" + input.name() + "' has unknown rank: give its data");
  std::vector<int64_t> shape;
  for (size_t i = 0; i < input.type.dims.size(); ++i) {
    const Dim& d = input.type.dims[i];
    if (d.value) shape.push_back(*d.value);
    else if (!d.param.empty() && options.dims.count(d.param)) shape.push_back(options.dims.at(d.param));
    else shape.push_back(i == 0 ? options.batch : 1);
  }
  return shape;
}

Expected<Tensor> randomTensor(DType dtype, const std::vector<int64_t>& shape, uint64_t seed) {
  uint64_t state = seed;
  uint8_t* raw = nullptr;
  auto count = checkedElementCount(shape);
  if (!count) return count.status();
  Tensor t = Tensor::uninitialized(dtype, shape, &raw);
  const int64_t n = *count;
  auto uniform = [&]() { return static_cast<float>(splitmix64(state) >> 40) / 16777216.0f * 2.0f - 1.0f; };
  auto small = [&]() { return static_cast<int64_t>(splitmix64(state) % 8); };
  switch (dtype) {
    case DType::kFloat: for (int64_t i = 0; i < n; ++i) reinterpret_cast<float*>(raw)[i] = uniform(); break;
    case DType::kDouble: for (int64_t i = 0; i < n; ++i) reinterpret_cast<double*>(raw)[i] = uniform(); break;
    case DType::kFloat16: for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(raw)[i] = floatToHalf(uniform()); break;
    case DType::kBFloat16: for (int64_t i = 0; i < n; ++i) reinterpret_cast<uint16_t*>(raw)[i] = floatToBfloat16(uniform()); break;
    case DType::kInt64: for (int64_t i = 0; i < n; ++i) reinterpret_cast<int64_t*>(raw)[i] = small(); break;
    case DType::kInt32: for (int64_t i = 0; i < n; ++i) reinterpret_cast<int32_t*>(raw)[i] = static_cast<int32_t>(small()); break;
    case DType::kInt8: case DType::kUInt8: for (int64_t i = 0; i < n; ++i) raw[i] = static_cast<uint8_t>(small()); break;
    case DType::kBool: for (int64_t i = 0; i < n; ++i) raw[i] = static_cast<uint8_t>(splitmix64(state) & 1); break;
    default: return unsupported("random data of type " + dtypeName(dtype) + " is not supported");
  }
  return t;
}

Expected<Tensor> constantTensor(DType dtype, const std::vector<int64_t>& shape, double value) {
  auto count = checkedElementCount(shape);
  if (!count) return count.status();
  uint8_t* raw = nullptr;
  Tensor t = Tensor::uninitialized(dtype, shape, &raw);
  for (int64_t i = 0; i < *count; ++i) {
    switch (dtype) {
      case DType::kFloat: reinterpret_cast<float*>(raw)[i] = static_cast<float>(value); break;
      case DType::kDouble: reinterpret_cast<double*>(raw)[i] = value; break;
      case DType::kFloat16: reinterpret_cast<uint16_t*>(raw)[i] = floatToHalf(static_cast<float>(value)); break;
      case DType::kInt64: reinterpret_cast<int64_t*>(raw)[i] = static_cast<int64_t>(value); break;
      case DType::kInt32: reinterpret_cast<int32_t*>(raw)[i] = static_cast<int32_t>(value); break;
      case DType::kInt8: reinterpret_cast<int8_t*>(raw)[i] = static_cast<int8_t>(value); break;
      case DType::kUInt8: case DType::kBool: raw[i] = static_cast<uint8_t>(value); break;
      default: return unsupported("constant data of type " + dtypeName(dtype) + " is not supported");
    }
  }
  return t;
}

Expected<NamedTensors> randomInputs(const Session& session, const RandomInputOptions& options) {
  NamedTensors inputs;
  for (const Value* input : session.inputs()) {
    NNC_ASSIGN_OR_RETURN(std::vector<int64_t> shape, concreteShape(*input, options));
    if (auto it = options.constants.find(input->name()); it != options.constants.end()) {
      auto t = constantTensor(static_cast<DType>(input->type.elem_type), shape, it->second);
      if (!t) return t.status().withContext("input '" + input->name() + "'");
      inputs.emplace_back(input->name(), std::move(t).value());
      continue;
    }
    auto t = randomTensor(static_cast<DType>(input->type.elem_type), shape, options.seed ^ fnv1a(input->name()));
    if (!t) return t.status().withContext("input '" + input->name() + "'");
    inputs.emplace_back(input->name(), std::move(t).value());
  }
  return inputs;
}

}  // namespace nnc

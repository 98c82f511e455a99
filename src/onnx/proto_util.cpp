// TensorProto <-> Tensor and unknown-field helpers (see proto_util.h).
#include "proto_util.h"

#include <google/protobuf/unknown_field_set.h>

#include <climits>
#include <cstring>
#include <filesystem>

namespace nnc::onnx_io {
namespace {

std::string tensorLabel(const onnx::TensorProto& proto) {
  return proto.name().empty() ? std::string("tensor") : "tensor '" + proto.name() + "'";
}

// Copies a repeated typed field into packed little-endian bytes of `dtype`.
template <typename Field>
std::shared_ptr<const Buffer> packField(const Field& field, DType dtype, uint64_t bytes) {
  auto buffer = std::make_shared<OwnedBuffer>(bytes);
  uint8_t* out = buffer->mutableData();
  const int bits = dtypeBits(dtype);
  const int n = field.size();
  for (int i = 0; i < n; ++i) {
    auto v = field.Get(i);
    switch (bits) {
      case 4:  // int32_data holds one packed byte (two 4-bit values) per entry
      case 8: { uint8_t b = static_cast<uint8_t>(v); out[i] = b; break; }
      case 16: { uint16_t h = static_cast<uint16_t>(v); std::memcpy(out + 2 * i, &h, 2); break; }
      default: std::memcpy(out + sizeof(v) * i, &v, sizeof(v)); break;
    }
  }
  return buffer;
}

template <typename Field>
Expected<std::shared_ptr<const Buffer>> fromTypedField(const Field& field, int64_t expected_entries, DType dtype,
                                                       uint64_t bytes, const onnx::TensorProto& proto) {
  if (field.size() != expected_entries)
    return invalidModel(tensorLabel(proto) + " has " + std::to_string(field.size()) + " values, its shape needs " +
                        std::to_string(expected_entries));
  return packField(field, dtype, bytes);
}

}  // namespace

std::string unknownFieldBytes(const google::protobuf::Message& message) {
  const auto& unknown = message.GetReflection()->GetUnknownFields(message);
  std::string bytes;
  if (!unknown.empty()) unknown.SerializeToString(&bytes);
  return bytes;
}

void restoreUnknownFields(const std::string& bytes, google::protobuf::Message* message) {
  if (bytes.empty()) return;
  google::protobuf::UnknownFieldSet fields;
  if (fields.ParseFromString(bytes)) message->GetReflection()->MutableUnknownFields(message)->MergeFrom(fields);
}

Expected<std::shared_ptr<const Buffer>> ExternalDataResolver::slice(const std::string& location, uint64_t offset,
                                                                    std::optional<uint64_t> length,
                                                                    uint64_t expected) {
  namespace fs = std::filesystem;
  if (folder_.empty()) return invalidModel("external data '" + location + "' needs the model's folder");
  fs::path rel(location);
  if (location.empty() || rel.is_absolute()) return invalidModel("external data location '" + location + "' must be a relative path");
  for (const auto& part : rel.lexically_normal())
    if (part == "..") return invalidModel("external data location '" + location + "' leaves the model's folder");
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(folder_), ec);
  fs::path full = fs::weakly_canonical(fs::path(folder_) / rel, ec);
  if (ec) return ioError("cannot resolve external data '" + location + "': " + ec.message());
  auto [base_end, _] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (base_end != base.end()) return invalidModel("external data location '" + location + "' leaves the model's folder");
  auto it = files_.find(full.string());
  if (it == files_.end()) {
    auto mapped = MappedFile::open(full.string());
    if (!mapped) return mapped.status().withContext("external data");
    it = files_.emplace(full.string(), std::move(mapped).value()).first;
  }
  const auto& file = it->second;
  uint64_t size = length.value_or(expected);
  if (size != expected)
    return invalidModel("external data length " + std::to_string(size) + " does not match the " +
                        std::to_string(expected) + " bytes its shape needs");
  if (offset > file->size() || size > file->size() - offset)
    return invalidModel("external data [" + std::to_string(offset) + ", +" + std::to_string(size) + ") is past the end of '" +
                        location + "' (" + std::to_string(file->size()) + " bytes)");
  // Element access needs natural alignment; a misaligned slice (rare) is copied once.
  if ((reinterpret_cast<uintptr_t>(file->data() + offset) % 16) != 0) {
    auto copy = std::make_shared<OwnedBuffer>(size);
    if (size) std::memcpy(copy->mutableData(), file->data() + offset, size);
    return std::shared_ptr<const Buffer>(std::move(copy));
  }
  return std::shared_ptr<const Buffer>(std::make_shared<MappedBuffer>(file, offset, size));
}

Expected<Tensor> tensorFromProto(onnx::TensorProto& proto, ExternalDataResolver& external) {
  Tensor tensor;
  tensor.name = proto.name();
  tensor.doc_string = proto.doc_string();
  auto dtype = dtypeFromOnnx(proto.data_type());
  if (!dtype || *dtype == DType::kUndefined)
    return invalidModel(tensorLabel(proto) + " has unknown data type " + std::to_string(proto.data_type()));
  tensor.dtype = *dtype;
  tensor.shape.assign(proto.dims().begin(), proto.dims().end());
  auto count = checkedElementCount(tensor.shape);
  if (!count) return count.status().withContext(tensorLabel(proto));
  const int64_t n = *count;
  if (tensor.dtype == DType::kString) {
    if (proto.string_data_size() != n)
      return invalidModel(tensorLabel(proto) + " has " + std::to_string(proto.string_data_size()) +
                          " strings, its shape needs " + std::to_string(n));
    tensor.strings.assign(proto.string_data().begin(), proto.string_data().end());
    return tensor;
  }
  const int bits = dtypeBits(tensor.dtype);
  if (bits > 8 && static_cast<uint64_t>(n) > UINT64_MAX / 16)
    return invalidModel(tensorLabel(proto) + " is too large");
  const uint64_t bytes = dtypeStorageBytes(tensor.dtype, static_cast<uint64_t>(n));

  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    uint64_t offset = 0;
    std::optional<uint64_t> length;
    for (const auto& kv : proto.external_data()) {
      try {
        if (kv.key() == "location") location = kv.value();
        else if (kv.key() == "offset") offset = std::stoull(kv.value());
        else if (kv.key() == "length") length = std::stoull(kv.value());
      } catch (const std::exception&) {
        return invalidModel(tensorLabel(proto) + ": external data " + kv.key() + " '" + kv.value() + "' is not a number");
      }
    }
    auto buffer = external.slice(location, offset, length, bytes);
    if (!buffer) return buffer.status().withContext(tensorLabel(proto));
    tensor.buffer = std::move(buffer).value();
    return tensor;
  }
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != bytes)
      return invalidModel(tensorLabel(proto) + " has " + std::to_string(proto.raw_data().size()) +
                          " bytes of data, its shape and type need " + std::to_string(bytes));
    tensor.buffer = std::make_shared<StringBuffer>(std::move(*proto.mutable_raw_data()));
    proto.clear_raw_data();
    return tensor;
  }
  Expected<std::shared_ptr<const Buffer>> buffer = std::shared_ptr<const Buffer>();
  switch (tensor.dtype) {
    case DType::kFloat: buffer = fromTypedField(proto.float_data(), n, tensor.dtype, bytes, proto); break;
    case DType::kComplex64: buffer = fromTypedField(proto.float_data(), 2 * n, DType::kFloat, bytes, proto); break;
    case DType::kDouble: buffer = fromTypedField(proto.double_data(), n, tensor.dtype, bytes, proto); break;
    case DType::kComplex128: buffer = fromTypedField(proto.double_data(), 2 * n, DType::kDouble, bytes, proto); break;
    case DType::kInt64: buffer = fromTypedField(proto.int64_data(), n, tensor.dtype, bytes, proto); break;
    case DType::kUInt32: {
      // uint64_data holds one uint32 per entry; narrow each to 4 bytes.
      if (proto.uint64_data_size() != n) return invalidModel(tensorLabel(proto) + " has the wrong number of values");
      auto owned = std::make_shared<OwnedBuffer>(bytes);
      for (int64_t i = 0; i < n; ++i) {
        uint32_t v = static_cast<uint32_t>(proto.uint64_data(static_cast<int>(i)));
        std::memcpy(owned->mutableData() + 4 * i, &v, 4);
      }
      buffer = std::shared_ptr<const Buffer>(std::move(owned));
      break;
    }
    case DType::kUInt64: buffer = fromTypedField(proto.uint64_data(), n, tensor.dtype, bytes, proto); break;
    case DType::kInt32: buffer = fromTypedField(proto.int32_data(), n, tensor.dtype, bytes, proto); break;
    default:
      // 8- and 16-bit types and float8 keep one value per int32 entry; 4-bit types one packed byte.
      buffer = fromTypedField(proto.int32_data(), bits == 4 ? static_cast<int64_t>(bytes) : n, tensor.dtype, bytes, proto);
      break;
  }
  if (!buffer) return buffer.status();
  tensor.buffer = std::move(buffer).value();
  return tensor;
}

void tensorMetaToProto(const Tensor& tensor, onnx::TensorProto* proto) {
  for (int64_t d : tensor.shape) proto->add_dims(d);
  proto->set_data_type(static_cast<int32_t>(tensor.dtype));
  if (!tensor.name.empty()) proto->set_name(tensor.name);
  if (!tensor.doc_string.empty()) proto->set_doc_string(tensor.doc_string);
}

void tensorToProto(const Tensor& tensor, onnx::TensorProto* proto) {
  tensorMetaToProto(tensor, proto);
  if (tensor.dtype == DType::kString) {
    for (const auto& s : tensor.strings) proto->add_string_data(s);
    return;
  }
  proto->set_raw_data(reinterpret_cast<const char*>(tensor.bytes()), tensor.byteSize());
}

}  // namespace nnc::onnx_io

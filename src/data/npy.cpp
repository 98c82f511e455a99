// .npy reading and writing (see npy.h). Format: magic "\x93NUMPY", version, header length,
// a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }, data.
#include "nncompress/data/npy.h"

#include <cstring>

#include "nncompress/support/file_io.h"

namespace nnc {
namespace {

std::optional<DType> dtypeFromDescr(const std::string& descr) {
  if (descr.size() < 3) return std::nullopt;
  const char order = descr[0];
  const std::string kind = descr.substr(1);
  if (order == '>' && kind != "i1" && kind != "u1" && kind != "b1") return std::nullopt;  // big-endian
  static const std::pair<const char*, DType> kTable[] = {
      {"f2", DType::kFloat16}, {"f4", DType::kFloat}, {"f8", DType::kDouble}, {"i1", DType::kInt8},
      {"i2", DType::kInt16},   {"i4", DType::kInt32}, {"i8", DType::kInt64},  {"u1", DType::kUInt8},
      {"u2", DType::kUInt16},  {"u4", DType::kUInt32}, {"u8", DType::kUInt64}, {"b1", DType::kBool}};
  for (const auto& [name, type] : kTable)
    if (kind == name) return type;
  return std::nullopt;
}

std::string descrOf(DType type) {
  switch (type) {
    case DType::kFloat16: return "<f2";
    case DType::kFloat: return "<f4";
    case DType::kDouble: return "<f8";
    case DType::kInt8: return "|i1";
    case DType::kInt16: return "<i2";
    case DType::kInt32: return "<i4";
    case DType::kInt64: return "<i8";
    case DType::kUInt8: return "|u1";
    case DType::kUInt16: return "<u2";
    case DType::kUInt32: return "<u4";
    case DType::kUInt64: return "<u8";
    case DType::kBool: return "|b1";
    default: return "";
  }
}

// The value text after 'key': in the header dict.
std::string dictValue(const std::string& header, const std::string& key) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return "";
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) return "";
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos) return "";
  if (header[start] == '(') return header.substr(start, header.find(')', start) - start + 1);
  if (header[start] == '\'') return header.substr(start + 1, header.find('\'', start + 1) - start - 1);
  size_t end = header.find_first_of(",}", start);
  return header.substr(start, end - start);
}

}  // namespace

Expected<NpyInfo> parseNpyHeader(const void* bytes, size_t size, const std::string& label) {
  const auto* data = static_cast<const uint8_t*>(bytes);
  if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0) return invalidModel(label + " is not an .npy file");
  const int major = data[6];
  size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = data[8] | (data[9] << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return invalidModel(label + ": truncated .npy header");
    header_len = static_cast<size_t>(data[8]) | (static_cast<size_t>(data[9]) << 8) | (static_cast<size_t>(data[10]) << 16) |
                 (static_cast<size_t>(data[11]) << 24);
    prefix = 12;
  } else {
    return invalidModel(label + ": unsupported .npy version " + std::to_string(major));
  }
  if (prefix + header_len > size) return invalidModel(label + ": truncated .npy header");
  std::string header(reinterpret_cast<const char*>(data + prefix), header_len);
  NpyInfo h;
  h.data_offset = prefix + header_len;
  std::string descr = dictValue(header, "descr");
  auto dtype = dtypeFromDescr(descr);
  if (!dtype) return unsupported(label + ": .npy dtype '" + descr + "' is not supported");
  h.dtype = *dtype;
  if (dictValue(header, "fortran_order") == "True")
    return unsupported(label + ": Fortran-order .npy arrays are not supported (save with np.ascontiguousarray)");
  std::string shape = dictValue(header, "shape");
  if (shape.empty() || shape.front() != '(') return invalidModel(label + ": .npy header has no shape");
  size_t pos = 1;
  while (pos < shape.size()) {
    size_t next = shape.find_first_of(",)", pos);
    std::string dim = shape.substr(pos, next - pos);
    dim.erase(0, dim.find_first_not_of(' '));
    if (!dim.empty()) {
      try {
        h.shape.push_back(std::stoll(dim));
      } catch (const std::exception&) {
        return invalidModel(label + ": bad .npy shape " + shape);
      }
    }
    if (next == std::string::npos || shape[next] == ')') break;
    pos = next + 1;
  }
  auto count = checkedElementCount(h.shape);
  if (!count) return count.status().withContext(label);
  // Every .npy element takes at least a byte: checking the count first keeps the byte size from overflowing.
  if (static_cast<uint64_t>(*count) > size - h.data_offset)
    return invalidModel(label + ": .npy data is shorter than its shape " + shape + " needs");
  h.data_bytes = static_cast<size_t>(dtypeStorageBytes(h.dtype, static_cast<uint64_t>(*count)));
  if (h.data_bytes > size - h.data_offset)
    return invalidModel(label + ": .npy data is shorter than its shape " + shape + " needs");
  return h;
}

Expected<Tensor> readNpy(const std::string& path) {
  NNC_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  NNC_ASSIGN_OR_RETURN(NpyInfo h, parseNpyHeader(file->data(), file->size(), "'" + path + "'"));
  Tensor t;
  t.dtype = h.dtype;
  t.shape = h.shape;
  const size_t bytes = dtypeStorageBytes(h.dtype, static_cast<uint64_t>(t.elementCount()));
  if (h.data_offset % 16 == 0) {
    t.buffer = std::make_shared<MappedBuffer>(file, h.data_offset, bytes);
  } else {  // misaligned data (rare): copy once so kernels can read elements directly
    auto copy = std::make_shared<OwnedBuffer>(bytes);
    std::memcpy(copy->mutableData(), file->data() + h.data_offset, bytes);
    t.buffer = std::move(copy);
  }
  return t;
}

Expected<Tensor> parseNpy(const void* data, size_t size, const std::string& label) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  NNC_ASSIGN_OR_RETURN(NpyInfo h, parseNpyHeader(bytes, size, label));
  uint8_t* out = nullptr;
  Tensor t = Tensor::uninitialized(h.dtype, h.shape, &out);
  std::memcpy(out, bytes + h.data_offset, t.byteSize());
  return t;
}

Status writeNpy(const std::string& path, const Tensor& tensor, bool overwrite) {
  std::string descr = descrOf(tensor.dtype);
  if (descr.empty()) return unsupported("cannot write " + dtypeName(tensor.dtype) + " as .npy");
  // Shape spelled like NumPy: "(2, 3)" / "(5,)" / "()".
  std::string pretty = "(";
  for (size_t i = 0; i < tensor.shape.size(); ++i) pretty += (i ? ", " : "") + std::to_string(tensor.shape[i]);
  if (tensor.shape.size() == 1) pretty += ",";
  pretty += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + pretty + ", }";
  // Total header (magic + version + length + dict + newline) padded to a multiple of 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string prefix("\x93NUMPY\x01\x00", 8);
  prefix.push_back(static_cast<char>(header.size() & 0xff));
  prefix.push_back(static_cast<char>(header.size() >> 8));
  NNC_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::create(path, overwrite));
  NNC_RETURN_IF_ERROR(writer->write(prefix.data(), prefix.size()));
  NNC_RETURN_IF_ERROR(writer->write(header.data(), header.size()));
  NNC_RETURN_IF_ERROR(writer->write(tensor.bytes(), tensor.byteSize()));
  return writer->commit();
}

}  // namespace nnc

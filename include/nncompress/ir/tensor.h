// Tensor: an element type, a shape and an immutable, shared byte buffer. A buffer can own
// its memory, hold a string moved out of a protobuf message, or view a slice of a memory-mapped
// external-data file, so loading a large model never copies its weights twice.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nncompress/ir/dtype.h"
#include "nncompress/support/status.h"

namespace nnc {

class MappedFile;

// Immutable bytes. Element data is little-endian, packed as ONNX raw_data.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual const uint8_t* data() const = 0;
  virtual size_t size() const = 0;
};

// A buffer that owns 64-byte aligned memory; writable until it is shared.
class OwnedBuffer final : public Buffer {
 public:
  // Zero-filled unless `zero_fill` is false (then every byte must be written before reading).
  explicit OwnedBuffer(size_t size, bool zero_fill = true);
  ~OwnedBuffer() override;
  OwnedBuffer(const OwnedBuffer&) = delete;
  OwnedBuffer& operator=(const OwnedBuffer&) = delete;
  const uint8_t* data() const override { return data_; }
  uint8_t* mutableData() { return data_; }
  size_t size() const override { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A buffer that keeps a std::string (for example a protobuf raw_data field moved in).
class StringBuffer final : public Buffer {
 public:
  explicit StringBuffer(std::string bytes) : bytes_(std::move(bytes)) {}
  const uint8_t* data() const override { return reinterpret_cast<const uint8_t*>(bytes_.data()); }
  size_t size() const override { return bytes_.size(); }

 private:
  std::string bytes_;
};

// A slice of a memory-mapped file; keeps the mapping alive.
class MappedBuffer final : public Buffer {
 public:
  MappedBuffer(std::shared_ptr<const MappedFile> file, size_t offset, size_t size);
  const uint8_t* data() const override;
  size_t size() const override { return size_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  size_t offset_;
  size_t size_;
};

// A byte range of another buffer, keeping it alive (zero-copy slices and views).
class SliceBuffer final : public Buffer {
 public:
  SliceBuffer(std::shared_ptr<const Buffer> parent, size_t offset, size_t size);
  const uint8_t* data() const override { return parent_->data() + offset_; }
  size_t size() const override { return size_; }

 private:
  std::shared_ptr<const Buffer> parent_;
  size_t offset_, size_;
};

// Number of elements of a shape; fails on negative dims or int64 overflow.
Expected<int64_t> checkedElementCount(const std::vector<int64_t>& shape);

// A constant tensor. `name` and `doc_string` are kept only so that a model round-trips.
struct Tensor {
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  std::shared_ptr<const Buffer> buffer;  // null for string tensors
  std::vector<std::string> strings;      // only for DType::kString
  std::string name;
  std::string doc_string;

  int64_t elementCount() const;  // shape must have been validated
  size_t byteSize() const { return buffer ? buffer->size() : 0; }
  const uint8_t* bytes() const { return buffer ? buffer->data() : nullptr; }
  template <typename T>
  const T* dataAs() const { return reinterpret_cast<const T*>(bytes()); }

  // A zero-filled tensor with its own buffer, and a pointer to write its data.
  static Tensor zeros(DType dtype, std::vector<int64_t> shape, uint8_t** data);
  // Like zeros() without the fill: the caller writes every element.
  static Tensor uninitialized(DType dtype, std::vector<int64_t> shape, uint8_t** data);
  // A tensor copied from typed values.
  template <typename T>
  static Tensor fromValues(DType dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
    uint8_t* data = nullptr;
    Tensor t = zeros(dtype, std::move(shape), &data);
    std::copy(values.begin(), values.end(), reinterpret_cast<T*>(data));
    return t;
  }
};

// Whether two tensors have the same type, shape and bytes (names are ignored).
bool sameContents(const Tensor& a, const Tensor& b);

// A sparse tensor in ONNX's COO layout: values [NNZ], indices [NNZ, rank] or [NNZ] linearized.
struct SparseTensor {
  Tensor values;
  Tensor indices;
  std::vector<int64_t> dims;
};

}  // namespace nnc

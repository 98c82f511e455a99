// Tensor buffers (see tensor.h).
#include "nncompress/ir/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "nncompress/support/file_io.h"

namespace nnc {

OwnedBuffer::OwnedBuffer(size_t size, bool zero_fill) : size_(size) {
  size_t rounded = (size + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  data_ = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
  if (data_ == nullptr) throw std::bad_alloc();
  if (zero_fill) std::memset(data_, 0, rounded);
  else if (rounded > size) std::memset(data_ + size, 0, rounded - size);  // padding stays defined
}

OwnedBuffer::~OwnedBuffer() { std::free(data_); }

MappedBuffer::MappedBuffer(std::shared_ptr<const MappedFile> file, size_t offset, size_t size)
    : file_(std::move(file)), offset_(offset), size_(size) {
  NNC_ENFORCE(offset_ + size_ <= file_->size(), "mapped slice outside its file");
}

SliceBuffer::SliceBuffer(std::shared_ptr<const Buffer> parent, size_t offset, size_t size)
    : parent_(std::move(parent)), offset_(offset), size_(size) {
  NNC_ENFORCE(offset_ + size_ <= parent_->size(), "slice outside its buffer");
}

const uint8_t* MappedBuffer::data() const { return file_->data() + offset_; }

Expected<int64_t> checkedElementCount(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return invalidModel("negative dimension " + std::to_string(dim));
    if (__builtin_mul_overflow(count, dim, &count)) return invalidModel("the product of the dimensions overflows int64");
  }
  return count;
}

int64_t Tensor::elementCount() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape, uint8_t** data) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  auto buffer = std::make_shared<OwnedBuffer>(dtypeStorageBytes(dtype, static_cast<uint64_t>(t.elementCount())));
  if (data != nullptr) *data = buffer->mutableData();
  t.buffer = std::move(buffer);
  return t;
}

Tensor Tensor::uninitialized(DType dtype, std::vector<int64_t> shape, uint8_t** data) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  auto buffer = std::make_shared<OwnedBuffer>(dtypeStorageBytes(dtype, static_cast<uint64_t>(t.elementCount())), false);
  if (data != nullptr) *data = buffer->mutableData();
  t.buffer = std::move(buffer);
  return t;
}

bool sameContents(const Tensor& a, const Tensor& b) {
  if (a.dtype != b.dtype || a.shape != b.shape || a.strings != b.strings) return false;
  if (a.byteSize() != b.byteSize()) return false;
  return a.byteSize() == 0 || std::memcmp(a.bytes(), b.bytes(), a.byteSize()) == 0;
}

}  // namespace nnc

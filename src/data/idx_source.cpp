// idx files (the MNIST format): magic 0x0000TTDD (TT = element type, DD = number of dims),
// DD big-endian uint32 dims, then the elements (big-endian for multi-byte types). Plain files
// are memory-mapped (uint8/int8 data is viewed without copy); gzip-compressed ones (.gz) are
// decompressed once at open (zlib), so they take their uncompressed size in memory.
#include <zlib.h>

#include <cstring>
#include <new>

#include "source_registry.h"

namespace nnc::data_sources {
namespace {

std::optional<DType> idxType(uint8_t code) {
  switch (code) {
    case 0x08: return DType::kUInt8;
    case 0x09: return DType::kInt8;
    case 0x0B: return DType::kInt16;
    case 0x0C: return DType::kInt32;
    case 0x0D: return DType::kFloat;
    case 0x0E: return DType::kDouble;
    default: return std::nullopt;
  }
}

bool isGzip(const std::string& prefix) { return prefix.size() >= 2 && uint8_t(prefix[0]) == 0x1f && uint8_t(prefix[1]) == 0x8b; }

bool isIdxMagic(const uint8_t* m) { return m[0] == 0 && m[1] == 0 && idxType(m[2]) && m[3] >= 1; }

struct IdxHeader {
  DType dtype = DType::kUndefined;
  std::vector<int64_t> dims;
  uint64_t data_bytes = 0;
};

// Parses the 4-byte magic; the dims follow in `dims_bytes` (4 * ndims bytes).
Expected<IdxHeader> parseHeader(const uint8_t* magic, const uint8_t* dims_bytes, const std::string& label) {
  IdxHeader h;
  h.dtype = *idxType(magic[2]);
  for (int d = 0; d < magic[3]; ++d) {
    const uint8_t* p = dims_bytes + 4 * d;
    h.dims.push_back(static_cast<int64_t>((uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]));
  }
  auto count = checkedElementCount(h.dims);
  if (!count) return count.status().withContext(label);
  if (*count > (int64_t{1} << 56)) return invalidModel(label + ": idx dimensions are too large");
  h.data_bytes = dtypeStorageBytes(h.dtype, static_cast<uint64_t>(*count));
  return h;
}

// Copies big-endian elements to little-endian.
void copySwapped(const uint8_t* in, uint8_t* out, uint64_t bytes, size_t element_size) {
  if (element_size == 1) {
    std::memcpy(out, in, bytes);
    return;
  }
  for (uint64_t i = 0; i < bytes; i += element_size)
    for (size_t b = 0; b < element_size; ++b) out[i + b] = in[i + element_size - 1 - b];
}

Expected<Tensor> readPlainIdx(const std::string& path, const std::string& label) {
  NNC_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  const uint8_t* data = file->data();
  if (file->size() < 4 || !isIdxMagic(data)) return invalidModel(label + " is not an idx file (bad magic number)");
  const size_t header = 4 + 4 * static_cast<size_t>(data[3]);
  if (file->size() < header) return invalidModel(label + " is truncated (idx header)");
  NNC_ASSIGN_OR_RETURN(IdxHeader h, parseHeader(data, data + 4, label));
  if (file->size() - header != h.data_bytes)
    return invalidModel(label + ": idx data is " + std::to_string(file->size() - header) + " bytes, its header says " +
                        std::to_string(h.data_bytes) + (file->size() - header < h.data_bytes ? " (truncated)" : ""));
  Tensor t;
  t.dtype = h.dtype;
  t.shape = h.dims;
  const size_t element_size = dtypeStorageBytes(h.dtype, 1);
  if (element_size == 1) {
    t.buffer = std::make_shared<MappedBuffer>(file, header, static_cast<size_t>(h.data_bytes));
  } else {
    auto copy = std::make_shared<OwnedBuffer>(static_cast<size_t>(h.data_bytes), false);
    copySwapped(data + header, copy->mutableData(), h.data_bytes, element_size);
    t.buffer = std::move(copy);
  }
  return t;
}

class GzFile {
 public:
  explicit GzFile(const std::string& path) : f_(gzopen(path.c_str(), "rb")) {}
  ~GzFile() {
    if (f_) gzclose_r(f_);
  }
  gzFile get() const { return f_; }
  std::string error() const {
    int code = Z_OK;
    const char* msg = gzerror(f_, &code);
    return code == Z_OK ? "" : msg;
  }
  // Reads up to `n` bytes; -1 on a zlib error (a truncated stream only sets error()).
  int64_t read(uint8_t* out, uint64_t n) {
    uint64_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<uint64_t>(n - done, 1u << 30));
      const int got = gzread(f_, out + done, chunk);
      if (got < 0) return -1;
      if (got == 0) break;
      done += static_cast<uint64_t>(got);
    }
    return static_cast<int64_t>(done);
  }

 private:
  gzFile f_;
};

Expected<Tensor> readGzIdx(const std::string& path, const std::string& label) {
  GzFile gz(path);
  if (!gz.get()) return ioError("cannot open " + label);
  gzbuffer(gz.get(), 1 << 18);
  auto corrupt = [&](const std::string& what) {
    std::string detail = gz.error();
    return invalidModel(label + ": " + (detail.empty() ? what : "corrupt gzip data (" + detail + ")"));
  };
  uint8_t magic[4];
  if (gz.read(magic, 4) != 4) return corrupt("truncated idx header");
  if (!isIdxMagic(magic)) return invalidModel(label + " is not a gzip-compressed idx file (bad magic number)");
  uint8_t dims[4 * 255];
  const uint64_t dims_bytes = 4 * static_cast<uint64_t>(magic[3]);
  if (gz.read(dims, dims_bytes) != static_cast<int64_t>(dims_bytes)) return corrupt("truncated idx header");
  NNC_ASSIGN_OR_RETURN(IdxHeader h, parseHeader(magic, dims, label));
  // gzip expands at most ~1032x: a larger stated size is corrupt (and would allocate for nothing).
  NNC_ASSIGN_OR_RETURN(uint64_t compressed, fileSize(path));
  if (h.data_bytes / 1032 > compressed + 1) return invalidModel(label + ": idx header states " + std::to_string(h.data_bytes) + " bytes, more than the file can hold");
  std::shared_ptr<OwnedBuffer> buffer;
  try {
    buffer = std::make_shared<OwnedBuffer>(static_cast<size_t>(h.data_bytes), false);
  } catch (const std::bad_alloc&) {
    return ioError(label + ": out of memory for " + std::to_string(h.data_bytes) + " bytes");
  }
  const int64_t got = gz.read(buffer->mutableData(), h.data_bytes);
  if (got < 0) return corrupt("");
  if (static_cast<uint64_t>(got) != h.data_bytes)
    return corrupt("idx data is truncated (" + std::to_string(got) + " of " + std::to_string(h.data_bytes) + " bytes)");
  // Read past the end so zlib checks the gzip trailer (CRC and length). A stream cut short is
  // not a hard zlib error (gzread returns what it has); gzerror reports it.
  uint8_t extra[1];
  const int64_t more = gz.read(extra, 1);
  if (more < 0 || !gz.error().empty()) return corrupt("gzip stream is truncated");
  if (more > 0) return invalidModel(label + ": idx data is longer than its header says");
  const size_t element_size = dtypeStorageBytes(h.dtype, 1);
  if (element_size > 1) {  // big-endian elements: swap in place
    uint8_t* p = buffer->mutableData();
    for (uint64_t i = 0; i < h.data_bytes; i += element_size)
      for (size_t b = 0; b < element_size / 2; ++b) std::swap(p[i + b], p[i + element_size - 1 - b]);
  }
  Tensor t;
  t.dtype = h.dtype;
  t.shape = h.dims;
  t.buffer = std::move(buffer);
  return t;
}

}  // namespace

bool looksLikeIdxOrGzip(const std::string& path) {
  const std::string prefix = filePrefix(path, 4);
  if (isGzip(prefix)) return true;
  return prefix.size() == 4 && isIdxMagic(reinterpret_cast<const uint8_t*>(prefix.data()));
}

Expected<Tensor> readIdx(const std::string& path) {
  const std::string label = "'" + path + "'";
  NNC_RETURN_IF_ERROR(checkReadableFile(path));
  if (isGzip(filePrefix(path, 2))) return readGzIdx(path, label);
  return readPlainIdx(path, label);
}

Expected<std::unique_ptr<SampleSource>> openIdx(const std::string& path) {
  NNC_ASSIGN_OR_RETURN(Tensor t, readIdx(path));
  if (t.shape.size() == 3) t.shape.insert(t.shape.begin() + 1, 1);  // images [N,rows,cols] -> [N,1,rows,cols] (NCHW)
  return arraySource(std::move(t), "'" + path + "'");
}

}  // namespace nnc::data_sources

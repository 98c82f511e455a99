// .npz (NumPy zip) data: the zip central directory is parsed here (zip64 included, as np.savez
// always writes zip64 local headers). Entries NAME.npy become sources NAME; np.savez's
// positional names arr_0, arr_1... become "#0", "#1". Stored entries (np.savez) are read from
// the memory-mapped file: no copy when the array data is 16-byte aligned in the file, else each
// batch is copied out of the mapping. Deflated entries (np.savez_compressed) are inflated once
// at open, so they take their uncompressed size in memory.
#include <zlib.h>

#include <cstring>
#include <new>
#include <set>

#include "nncompress/data/npy.h"
#include "source_registry.h"

namespace nnc::data_sources {
namespace {

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) { return static_cast<uint32_t>(rd16(p)) | (static_cast<uint32_t>(rd16(p + 2)) << 16); }
uint64_t rd64(const uint8_t* p) { return static_cast<uint64_t>(rd32(p)) | (static_cast<uint64_t>(rd32(p + 4)) << 32); }

struct Entry {
  std::string name;
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0, uncompressed = 0, local_offset = 0;
};

Expected<std::vector<Entry>> readCentralDirectory(const uint8_t* data, size_t size, const std::string& label) {
  // End of central directory record: 22 bytes + a comment of up to 65535 bytes at the end.
  if (size < 22) return invalidModel(label + " is not a zip file (too short)");
  size_t eocd = std::string::npos;
  const size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (size_t i = size - 22 + 1; i-- > lowest;) {
    if (std::memcmp(data + i, "PK\x05\x06", 4) == 0 && i + 22 + rd16(data + i + 20) <= size) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) return invalidModel(label + " is not a zip file or is truncated (no end of central directory)");
  const uint8_t* e = data + eocd;
  uint64_t disk = rd16(e + 4), cd_disk = rd16(e + 6), entries = rd16(e + 10), cd_size = rd32(e + 12), cd_offset = rd32(e + 16);
  // Zip64: a locator right before the record points to the zip64 end of central directory.
  if (eocd >= 20 && std::memcmp(data + eocd - 20, "PK\x06\x07", 4) == 0) {
    const uint64_t z = rd64(data + eocd - 20 + 8);
    if (z > size || size - z < 56 || std::memcmp(data + z, "PK\x06\x06", 4) != 0)
      return invalidModel(label + ": bad zip64 end of central directory");
    const uint8_t* r = data + z;
    disk = rd32(r + 16), cd_disk = rd32(r + 20), entries = rd64(r + 32), cd_size = rd64(r + 40), cd_offset = rd64(r + 48);
  } else if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    return invalidModel(label + ": zip64 archive without its zip64 end of central directory");
  }
  if (disk != 0 || cd_disk != 0) return unsupported(label + ": multi-part zip archives are not supported");
  if (cd_offset > size || cd_size > size - cd_offset) return invalidModel(label + " is truncated (central directory outside the file)");

  std::vector<Entry> result;
  const uint8_t* p = data + cd_offset;
  const uint8_t* end = p + cd_size;
  for (uint64_t k = 0; k < entries; ++k) {
    if (end - p < 46 || std::memcmp(p, "PK\x01\x02", 4) != 0) return invalidModel(label + ": corrupt zip central directory");
    Entry entry;
    entry.flags = rd16(p + 8);
    entry.method = rd16(p + 10);
    entry.crc = rd32(p + 16);
    entry.compressed = rd32(p + 20);
    entry.uncompressed = rd32(p + 24);
    const size_t name_len = rd16(p + 28), extra_len = rd16(p + 30), comment_len = rd16(p + 32);
    entry.local_offset = rd32(p + 42);
    if (static_cast<size_t>(end - p) < 46 + name_len + extra_len + comment_len)
      return invalidModel(label + ": corrupt zip central directory");
    entry.name.assign(reinterpret_cast<const char*>(p + 46), name_len);
    // Zip64 extended information (id 1): the 8-byte values of the fields saturated above, in order.
    const uint8_t* x = p + 46 + name_len;
    const uint8_t* x_end = x + extra_len;
    while (x_end - x >= 4) {
      const uint16_t id = rd16(x), len = rd16(x + 2);
      if (x_end - x - 4 < len) break;
      if (id == 1) {
        const uint8_t* v = x + 4;
        const uint8_t* v_end = v + len;
        for (uint64_t* field : {&entry.uncompressed, &entry.compressed, &entry.local_offset}) {
          if (*field != 0xFFFFFFFF) continue;
          if (v_end - v < 8) return invalidModel(label + ": corrupt zip64 field of entry '" + entry.name + "'");
          *field = rd64(v);
          v += 8;
        }
      }
      x += 4 + len;
    }
    result.push_back(std::move(entry));
    p += 46 + name_len + extra_len + comment_len;
  }
  return result;
}

// Inflates a raw deflate stream of `size` bytes into exactly `out_size` bytes.
Status inflateEntry(const uint8_t* in, uint64_t size, uint8_t* out, uint64_t out_size, const std::string& label) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return ioError(label + ": cannot start zlib");
  uint64_t in_left = size, out_left = out_size;
  z.next_in = const_cast<Bytef*>(in);
  z.next_out = out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (z.avail_in == 0) {
      z.avail_in = static_cast<uInt>(std::min<uint64_t>(in_left, 1u << 30));
      in_left -= z.avail_in;
    }
    if (z.avail_out == 0) {
      z.avail_out = static_cast<uInt>(std::min<uint64_t>(out_left, 1u << 30));
      out_left -= z.avail_out;
    }
    const uInt in_before = z.avail_in, out_before = z.avail_out;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR || (rc == Z_OK && z.avail_in == in_before && z.avail_out == out_before)) break;  // no progress
  }
  const uint64_t produced = out_size - out_left - z.avail_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    if (rc == Z_DATA_ERROR) return invalidModel(label + ": corrupt deflate data");
    return invalidModel(label + ": deflate data is truncated or longer than its stated size");
  }
  if (produced != out_size) return invalidModel(label + ": inflated to " + std::to_string(produced) + " bytes, expected " +
                                                std::to_string(out_size));
  return Status::ok();
}

// Samples of an array inside a mapped file whose data is not 16-byte aligned: each batch is
// copied out of the mapping (memory: one batch).
class CopyingSource final : public SampleSource {
 public:
  CopyingSource(std::shared_ptr<const MappedFile> file, size_t offset, DType dtype, std::vector<int64_t> shape, std::string label)
      : file_(std::move(file)), offset_(offset), dtype_(dtype), shape_(std::move(shape)), label_(std::move(label)) {}
  int64_t count() const override { return shape_[0]; }
  DType dtype() const override { return dtype_; }
  std::vector<int64_t> sampleShape() const override { return {shape_.begin() + 1, shape_.end()}; }
  std::string describe() const override { return label_; }
  Expected<Tensor> read(int64_t begin, int64_t n) const override {
    if (begin < 0 || n < 0 || begin + n > count()) return invalidArgument(label_ + ": samples out of range");
    int64_t elements = 1;
    for (size_t d = 1; d < shape_.size(); ++d) elements *= shape_[d];
    const uint64_t per_sample = dtypeStorageBytes(dtype_, static_cast<uint64_t>(elements));
    std::vector<int64_t> shape = shape_;
    shape[0] = n;
    uint8_t* out = nullptr;
    Tensor t = Tensor::uninitialized(dtype_, std::move(shape), &out);
    std::memcpy(out, file_->data() + offset_ + per_sample * static_cast<uint64_t>(begin), t.byteSize());
    return t;
  }

 private:
  std::shared_ptr<const MappedFile> file_;
  size_t offset_;
  DType dtype_;
  std::vector<int64_t> shape_;
  std::string label_;
};

// "arr_12" -> "#12" (np.savez positional arrays); other names unchanged.
std::string sourceName(const std::string& array_name) {
  if (array_name.size() > 4 && array_name.size() <= 4 + 9 && array_name.compare(0, 4, "arr_") == 0 &&
      array_name.find_first_not_of("0123456789", 4) == std::string::npos)
    return "#" + std::to_string(std::stoull(array_name.substr(4)));
  return array_name;
}

}  // namespace

Expected<NamedSources> openNpz(const std::string& path) {
  const std::string label = "'" + path + "'";
  NNC_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
  const uint8_t* data = file->data();
  const size_t size = file->size();
  NNC_ASSIGN_OR_RETURN(auto entries, readCentralDirectory(data, size, label));
  NamedSources sources;
  std::set<std::string> seen;
  for (const Entry& entry : entries) {
    if (!endsWith(entry.name, ".npy")) continue;  // folders, other files: not arrays
    const std::string array_name = entry.name.substr(0, entry.name.size() - 4);
    const std::string where = label + " entry '" + entry.name + "'";
    if (entry.flags & 1) return unsupported(where + " is encrypted");
    if (entry.method != 0 && entry.method != 8)
      return unsupported(where + " uses zip compression method " + std::to_string(entry.method) + " (only stored and deflated are supported)");
    // Local header: 30 bytes + name + extra (its sizes may differ from the central directory's).
    const uint64_t lo = entry.local_offset;
    if (lo > size || size - lo < 30 || std::memcmp(data + lo, "PK\x03\x04", 4) != 0)
      return invalidModel(where + ": bad local header (truncated or corrupt zip)");
    const uint64_t start = lo + 30 + rd16(data + lo + 26) + rd16(data + lo + 28);
    if (start > size || size - start < entry.compressed) return invalidModel(where + " is truncated");
    std::string name = sourceName(array_name);
    if (!seen.insert(name).second) return invalidModel(label + " holds two arrays named '" + array_name + "'");
    const std::string source_label = label + " array '" + array_name + "'";
    Tensor array;
    if (entry.method == 0) {
      if (entry.compressed != entry.uncompressed) return invalidModel(where + ": stored entry with different sizes");
      NNC_ASSIGN_OR_RETURN(NpyInfo info, parseNpyHeader(data + start, entry.compressed, where));
      if (info.shape.empty()) return invalidArgument(where + " is a scalar; data arrays need a leading sample axis");
      const size_t offset = start + info.data_offset;
      if (offset % 16 != 0) {
        sources.emplace_back(name, std::make_unique<CopyingSource>(file, offset, info.dtype, info.shape, source_label));
        continue;
      }
      array.dtype = info.dtype;
      array.shape = info.shape;
      array.buffer = std::make_shared<MappedBuffer>(file, offset, info.data_bytes);
    } else {
      // A deflate stream expands at most ~1032x: a larger stated size is corrupt (and would
      // allocate memory for nothing).
      if (entry.uncompressed / 1032 > entry.compressed + 1) return invalidModel(where + ": implausible uncompressed size");
      std::shared_ptr<OwnedBuffer> inflated;
      try {
        inflated = std::make_shared<OwnedBuffer>(static_cast<size_t>(entry.uncompressed), false);
      } catch (const std::bad_alloc&) {
        return ioError(where + ": out of memory inflating " + std::to_string(entry.uncompressed) + " bytes");
      }
      NNC_RETURN_IF_ERROR(inflateEntry(data + start, entry.compressed, inflated->mutableData(), entry.uncompressed, where));
      if (crc32_z(0, inflated->data(), inflated->size()) != entry.crc) return invalidModel(where + ": CRC mismatch (corrupt zip)");
      NNC_ASSIGN_OR_RETURN(NpyInfo info, parseNpyHeader(inflated->data(), inflated->size(), where));
      if (info.shape.empty()) return invalidArgument(where + " is a scalar; data arrays need a leading sample axis");
      array.dtype = info.dtype;
      array.shape = info.shape;
      if (info.data_offset % 16 == 0) {
        array.buffer = std::make_shared<SliceBuffer>(inflated, info.data_offset, info.data_bytes);
      } else {
        auto copy = std::make_shared<OwnedBuffer>(info.data_bytes, false);
        std::memcpy(copy->mutableData(), inflated->data() + info.data_offset, info.data_bytes);
        array.buffer = std::move(copy);
      }
    }
    sources.emplace_back(name, arraySource(std::move(array), source_label));
  }
  if (sources.empty()) return invalidArgument(label + " holds no .npy arrays");
  return sources;
}

}  // namespace nnc::data_sources

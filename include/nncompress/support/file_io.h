// File I/O: read-only memory maps for model and external-data files, and atomic output
// files (written to a temporary file in the destination folder, renamed into place on commit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "nncompress/support/status.h"

namespace nnc {

// A whole file mapped read-only. Pages are loaded lazily by the kernel, so mapping a large
// external-data file costs no memory until its tensors are read.
class MappedFile {
 public:
  static Expected<std::shared_ptr<const MappedFile>> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Checks that `path` names a readable regular file; the error names the file.
Status checkReadableFile(const std::string& path);

// Size of a regular file in bytes.
Expected<uint64_t> fileSize(const std::string& path);

// Writes a file atomically: data goes to a hidden temporary file beside the destination and
// is renamed over it by commit(). Destroyed without commit(), the temporary file is removed,
// so a failed or interrupted run never leaves a partial output under the final name.
class AtomicFileWriter {
 public:
  // Fails if the destination exists and `overwrite` is false, or its folder is not writable.
  static Expected<std::unique_ptr<AtomicFileWriter>> create(const std::string& path, bool overwrite);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  Status write(const void* data, size_t size);
  Status writeZeros(size_t size);
  uint64_t bytesWritten() const { return written_; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Flushes, syncs and renames the temporary file to the destination.
  Status commit();

 private:
  AtomicFileWriter() = default;
  Status flushBuffer();
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t written_ = 0;
  std::string buffer_;
  bool committed_ = false;
};

// Folder part of a path ("." when it has none).
std::string parentFolder(const std::string& path);
// Last component of a path.
std::string baseName(const std::string& path);

}  // namespace nnc

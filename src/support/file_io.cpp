// File I/O: memory maps and atomic output files (see file_io.h).
#include "nncompress/support/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace nnc {
namespace {

std::string errnoText() { return std::strerror(errno); }

constexpr size_t kWriteBufferSize = 1 << 20;

}  // namespace

Status checkReadableFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ioError("cannot open '" + path + "': " + errnoText());
  if (S_ISDIR(st.st_mode)) return ioError("'" + path + "' is a folder, not a file");
  if (!S_ISREG(st.st_mode)) return ioError("'" + path + "' is not a regular file");
  if (::access(path.c_str(), R_OK) != 0) return ioError("cannot read '" + path + "': " + errnoText());
  return Status::ok();
}

Expected<uint64_t> fileSize(const std::string& path) {
  NNC_RETURN_IF_ERROR(checkReadableFile(path));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ioError("cannot stat '" + path + "': " + errnoText());
  return static_cast<uint64_t>(st.st_size);
}

Expected<std::shared_ptr<const MappedFile>> MappedFile::open(const std::string& path) {
  NNC_RETURN_IF_ERROR(checkReadableFile(path));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ioError("cannot open '" + path + "': " + errnoText());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return ioError("cannot stat '" + path + "': " + errnoText());
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      return ioError("cannot map '" + path + "': " + errnoText());
    }
    file->data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return std::shared_ptr<const MappedFile>(std::move(file));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

std::string parentFolder(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string baseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Expected<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::create(const std::string& path, bool overwrite) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return ioError("output '" + path + "' is a folder");
    if (!overwrite) return Status(ErrorCode::kOutputExists, "output '" + path + "' exists (use --force to replace it)");
  }
  std::string folder = parentFolder(path);
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return ioError("output folder '" + folder + "' does not exist");
  std::unique_ptr<AtomicFileWriter> writer(new AtomicFileWriter());
  writer->path_ = path;
  // A random suffix keeps concurrent jobs writing the same output from sharing a temp file.
  std::random_device rd;
  for (int attempt = 0; attempt < 16 && writer->fd_ < 0; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", rd());
    writer->temp_path_ = folder + "/." + baseName(path) + ".tmp-" + suffix;
    writer->fd_ = ::open(writer->temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (writer->fd_ < 0 && errno != EEXIST) break;
  }
  if (writer->fd_ < 0) return ioError("cannot create a file in '" + folder + "': " + errnoText());
  writer->buffer_.reserve(kWriteBufferSize);
  return writer;
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

Status AtomicFileWriter::flushBuffer() {
  const char* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError("cannot write '" + path_ + "': " + errnoText());
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer_.clear();
  return Status::ok();
}

Status AtomicFileWriter::write(const void* data, size_t size) {
  NNC_ENFORCE(!committed_, "write after commit");
  written_ += size;
  const char* bytes = static_cast<const char*>(data);
  // Large blocks (tensor data) bypass the buffer to avoid a copy.
  if (size >= kWriteBufferSize) {
    NNC_RETURN_IF_ERROR(flushBuffer());
    while (size > 0) {
      ssize_t n = ::write(fd_, bytes, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ioError("cannot write '" + path_ + "': " + errnoText());
      }
      bytes += n;
      size -= static_cast<size_t>(n);
    }
    return Status::ok();
  }
  if (buffer_.size() + size > kWriteBufferSize) NNC_RETURN_IF_ERROR(flushBuffer());
  buffer_.append(bytes, size);
  return Status::ok();
}

Status AtomicFileWriter::writeZeros(size_t size) {
  static const char kZeros[4096] = {};
  while (size > 0) {
    size_t n = size < sizeof kZeros ? size : sizeof kZeros;
    NNC_RETURN_IF_ERROR(write(kZeros, n));
    size -= n;
  }
  return Status::ok();
}

Status AtomicFileWriter::commit() {
  NNC_RETURN_IF_ERROR(flushBuffer());
  if (::fsync(fd_) != 0) return ioError("cannot sync '" + path_ + "': " + errnoText());
  if (::close(fd_) != 0) {
    fd_ = -1;
    return ioError("cannot close '" + path_ + "': " + errnoText());
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0)
    return ioError("cannot move the output into place at '" + path_ + "': " + errnoText());
  committed_ = true;
  return Status::ok();
}

}  // namespace nnc

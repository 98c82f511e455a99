// Status helpers and the internal-error thrower behind NNC_ENFORCE.
#include "nncompress/support/status.h"

namespace nnc {

Status Status::withContext(const std::string& context) const {
  if (isOk()) return *this;
  return Status(code_, context + ": " + message_);
}

Status invalidArgument(std::string message) { return {ErrorCode::kInvalidArgument, std::move(message)}; }
Status invalidModel(std::string message) { return {ErrorCode::kInvalidModel, std::move(message)}; }
Status unsupported(std::string message) { return {ErrorCode::kUnsupported, std::move(message)}; }
Status ioError(std::string message) { return {ErrorCode::kIo, std::move(message)}; }

void throwInternalError(const char* file, int line, const std::string& message) {
  throw InternalError(std::string("internal error at ") + file + ":" + std::to_string(line) + ": " + message);
}

}  // namespace nnc

// Status and Expected<T>: how nncompress reports errors a user can cause (bad file, bad
// option, unsupported op). Broken invariants use NNC_ENFORCE, which throws InternalError.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace nnc {

// Error categories; the CLI maps each to a documented exit code (docs/cli.md).
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // a bad option or option value
  kInvalidModel,     // the model file is not a valid ONNX model
  kUnsupported,      // valid, but nncompress cannot handle it (yet)
  kIo,               // a file could not be read or written
  kOutputExists,     // the output exists and --force was not given
  kInternal,         // a bug in nncompress
};

// The result of an operation that can fail. Context is prepended as the error travels up:
// "convert: node 'conv3' (Conv): input 'w' is not produced by any node".
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool isOk() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns this error with "context: " in front of the message; an ok Status stays ok.
  Status withContext(const std::string& context) const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

Status invalidArgument(std::string message);
Status invalidModel(std::string message);
Status unsupported(std::string message);
Status ioError(std::string message);

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Expected(Status status) : state_(std::move(status)) {}  // NOLINT: implicit by design

  bool isOk() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return isOk(); }

  const Status& status() const {
    static const Status kOk;
    return isOk() ? kOk : std::get<Status>(state_);
  }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> state_;
};

// Thrown by NNC_ENFORCE: an invariant of nncompress itself is broken.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] void throwInternalError(const char* file, int line, const std::string& message);

}  // namespace nnc

#define NNC_ENFORCE(cond, message)                                                      \
  do {                                                                                  \
    if (!(cond)) ::nnc::throwInternalError(__FILE__, __LINE__, std::string("'" #cond "' failed: ") + (message)); \
  } while (0)

#define NNC_CONCAT_INNER(a, b) a##b
#define NNC_CONCAT(a, b) NNC_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is an error.
#define NNC_RETURN_IF_ERROR(expr)                   \
  do {                                              \
    ::nnc::Status nnc_status_ = (expr);             \
    if (!nnc_status_.isOk()) return nnc_status_;    \
  } while (0)

// `lhs = value of expr`, or returns the error Status from the enclosing function.
#define NNC_ASSIGN_OR_RETURN(lhs, expr) NNC_ASSIGN_OR_RETURN_IMPL(NNC_CONCAT(nnc_expected_, __LINE__), lhs, expr)
#define NNC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.isOk()) return tmp.status();           \
  lhs = std::move(tmp).value()

// Shared CLI helpers (see cli.h).
#include "cli.h"

#include <cstdio>
#include <iostream>

namespace nnc::cli {

int exitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return kExitOk;
    case ErrorCode::kInvalidArgument: return kExitUsage;
    case ErrorCode::kInvalidModel: return kExitInvalidInput;
    case ErrorCode::kUnsupported: return kExitUnsupported;
    case ErrorCode::kIo: return kExitIo;
    case ErrorCode::kOutputExists: return kExitOutputExists;
    case ErrorCode::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

int reportError(const Status& status) {
  std::string message = status.message();
  for (char& c : message)
    if (c == '\n') c = ' ';
  std::cerr << "nncompress: error: " << message << "\n";
  return exitCodeFor(status.code());
}

void printJson(const nlohmann::ordered_json& value) { std::cout << value.dump(2) << "\n"; }

std::string formatBytes(uint64_t bytes) {
  char text[32];
  if (bytes >= (1ull << 30)) std::snprintf(text, sizeof text, "%.2f GB", static_cast<double>(bytes) / (1ull << 30));
  else if (bytes >= (1ull << 20)) std::snprintf(text, sizeof text, "%.2f MB", static_cast<double>(bytes) / (1ull << 20));
  else if (bytes >= (1ull << 10)) std::snprintf(text, sizeof text, "%.1f KB", static_cast<double>(bytes) / (1ull << 10));
  else std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  return text;
}

std::string formatCount(int64_t count) {
  std::string digits = std::to_string(count < 0 ? -count : count);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return count < 0 ? "-" + out : out;
}

}  // namespace nnc::cli

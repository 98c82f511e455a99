// The ONNX checker (from Debian's libonnx, ONNX 1.12) run on an IR model or a file. It only
// knows opsets up to 17 and IR version 8: newer models are reported as "not checkable".
#pragma once

#include <string>

#include "nncompress/ir/graph.h"

namespace nnc {

enum class CheckResult { kValid, kInvalid, kNotCheckable };

struct CheckReport {
  CheckResult result = CheckResult::kValid;
  std::string message;  // the checker's complaint, or why the model is not checkable
};

// Checks a model file with onnx::checker (full check, external data resolved by path).
CheckReport checkModelFile(const std::string& path);
// Checks an in-memory model (exported with inline data).
CheckReport checkModel(const Model& model);

}  // namespace nnc

// ONNX checker wrapper (see checker.h).
#include "nncompress/onnx/checker.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>

#include <fstream>

#include "nncompress/onnx/export.h"

namespace nnc {
namespace {

// ONNX 1.12 knows IR version 8 and default-domain opset 17.
constexpr int64_t kMaxCheckableIr = 8;
constexpr int64_t kMaxCheckableOpset = 17;

CheckReport notCheckable(int64_t ir, int64_t opset) {
  if (ir > kMaxCheckableIr)
    return {CheckResult::kNotCheckable, "IR version " + std::to_string(ir) + " is newer than the checker's (8)"};
  if (opset > kMaxCheckableOpset)
    return {CheckResult::kNotCheckable, "opset " + std::to_string(opset) + " is newer than the checker's (17)"};
  return {};
}

template <typename F>
CheckReport runChecker(F&& check) {
  try {
    check();
    return {};
  } catch (const std::exception& e) {
    std::string message = e.what();
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return {CheckResult::kInvalid, message};
  }
}

}  // namespace

CheckReport checkModel(const Model& model) {
  CheckReport gate = notCheckable(model.ir_version, model.opsetVersion(""));
  if (gate.result != CheckResult::kValid) return gate;
  onnx::ModelProto proto;
  exportModel(model, &proto);
  return runChecker([&] { onnx::checker::check_model(proto); });
}

CheckReport checkModelFile(const std::string& path) {
  onnx::ModelProto proto;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in || !proto.ParseFromIstream(&in)) return {CheckResult::kInvalid, "cannot parse '" + path + "'"};
  }
  int64_t opset = 0;
  for (const auto& op : proto.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") opset = op.version();
  CheckReport gate = notCheckable(proto.ir_version(), opset);
  if (gate.result != CheckResult::kValid) return gate;
  return runChecker([&] { onnx::checker::check_model(path); });
}

}  // namespace nnc

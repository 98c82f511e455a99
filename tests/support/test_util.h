// Helpers shared by the tests: where the data lives, reading protos, and an independent
// normalization of TensorProto data (typed fields -> raw_data) to compare models losslessly.
#pragma once

#include <onnx/onnx_pb.h>

#include "nncompress/ir/graph.h"

#include <string>
#include <vector>

namespace nnc::test {

// Debian's libonnx-testdata root: /usr/share/libonnx-testdata/data
std::string onnxTestDataRoot();
// The repository root (from the NNC_SOURCE_DIR compile definition).
std::string sourceDir();
// All files named `model.onnx` (or *.onnx) under a folder, sorted.
std::vector<std::string> findOnnxFiles(const std::string& folder);
// Reads a ModelProto from a file; fails the current test on error.
bool readProto(const std::string& path, onnx::ModelProto* proto);
// Rewrites every tensor of the model to raw_data (strings stay in string_data), written here
// independently of nncompress's own converter.
void normalizeTensorData(onnx::ModelProto* model);
// Compares two protos, treating unset fields as equal to their defaults; `diff` says what differs.
bool equivalent(const google::protobuf::Message& a, const google::protobuf::Message& b, std::string* diff);
// A temporary folder removed at exit of the test process.
std::string makeTempDir();

}  // namespace nnc::test

namespace nnc::test {
// A ModelProto from ONNX's text syntax (onnx::OnnxParser); fails the test on a parse error.
onnx::ModelProto parseText(const char* text);
// The same imported into nncompress's IR; fails the test on an import error.
Model importText(const char* text);
// Nodes of this op type in the model's graph and its subgraphs.
int countOps(const Model& model, const std::string& op);
// Writes bytes to a file.
void writeFile(const std::string& path, const std::string& bytes);
std::string readFile(const std::string& path);
}  // namespace nnc::test

namespace nnc::test {
// "[2,3]" for messages.
std::string shapeText(const std::vector<int64_t>& shape);
}  // namespace nnc::test

namespace nnc::test {
// A shell command's exit code and captured output, for the end-to-end CLI tests.
struct ShellResult {
  int exit_code;
  std::string out, err;
};
// Runs a shell command line; captures stdout and stderr.
ShellResult shell(const std::string& command);
// Single-quotes a word for the shell.
std::string quote(const std::string& s);
// The bundled models folder (NNC_MODELS_DIR overrides models/).
std::string modelsDir();
}  // namespace nnc::test

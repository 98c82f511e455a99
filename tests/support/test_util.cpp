// Test helpers (see test_util.h).
#include "test_util.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace nnc::test {
namespace fs = std::filesystem;

std::string onnxTestDataRoot() { return "/usr/share/libonnx-testdata/data"; }

std::string sourceDir() { return NNC_SOURCE_DIR; }

std::vector<std::string> findOnnxFiles(const std::string& folder) {
  std::vector<std::string> files;
  if (!fs::exists(folder)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().extension() == ".onnx") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

bool readProto(const std::string& path, onnx::ModelProto* proto) {
  std::ifstream in(path, std::ios::binary);
  return in && proto->ParseFromIstream(&in);
}

namespace {

template <typename T>
void appendBytes(std::string& raw, T value, int bytes) {
  char buf[8];
  std::memcpy(buf, &value, sizeof value);
  raw.append(buf, static_cast<size_t>(bytes));
}

void normalizeTensor(onnx::TensorProto* t) {
  if (t->data_location() == onnx::TensorProto::EXTERNAL || t->has_raw_data() || t->data_type() == onnx::TensorProto::STRING) return;
  std::string raw;
  switch (t->data_type()) {
    case onnx::TensorProto::FLOAT: case onnx::TensorProto::COMPLEX64:
      for (float v : t->float_data()) appendBytes(raw, v, 4);
      break;
    case onnx::TensorProto::DOUBLE: case onnx::TensorProto::COMPLEX128:
      for (double v : t->double_data()) appendBytes(raw, v, 8);
      break;
    case onnx::TensorProto::INT64:
      for (int64_t v : t->int64_data()) appendBytes(raw, v, 8);
      break;
    case onnx::TensorProto::UINT64:
      for (uint64_t v : t->uint64_data()) appendBytes(raw, v, 8);
      break;
    case onnx::TensorProto::UINT32:
      for (uint64_t v : t->uint64_data()) appendBytes(raw, static_cast<uint32_t>(v), 4);
      break;
    case onnx::TensorProto::INT32:
      for (int32_t v : t->int32_data()) appendBytes(raw, v, 4);
      break;
    case onnx::TensorProto::UINT16: case onnx::TensorProto::INT16: case onnx::TensorProto::FLOAT16: case onnx::TensorProto::BFLOAT16:
      for (int32_t v : t->int32_data()) appendBytes(raw, static_cast<uint16_t>(v), 2);
      break;
    default:  // 8-bit types, bool, float8, and packed 4-bit types: one byte per entry
      for (int32_t v : t->int32_data()) appendBytes(raw, static_cast<uint8_t>(v), 1);
      break;
  }
  t->clear_float_data();
  t->clear_double_data();
  t->clear_int32_data();
  t->clear_int64_data();
  t->clear_uint64_data();
  t->set_raw_data(raw);
}

void normalizeGraph(onnx::GraphProto* g);

void normalizeNodes(google::protobuf::RepeatedPtrField<onnx::NodeProto>* nodes) {
  for (auto& n : *nodes)
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) normalizeTensor(a.mutable_t());
      for (auto& t : *a.mutable_tensors()) normalizeTensor(&t);
      if (a.has_sparse_tensor()) {
        normalizeTensor(a.mutable_sparse_tensor()->mutable_values());
        normalizeTensor(a.mutable_sparse_tensor()->mutable_indices());
      }
      for (auto& s : *a.mutable_sparse_tensors()) {
        normalizeTensor(s.mutable_values());
        normalizeTensor(s.mutable_indices());
      }
      if (a.has_g()) normalizeGraph(a.mutable_g());
      for (auto& g : *a.mutable_graphs()) normalizeGraph(&g);
    }
}

void normalizeGraph(onnx::GraphProto* g) {
  for (auto& t : *g->mutable_initializer()) normalizeTensor(&t);
  for (auto& s : *g->mutable_sparse_initializer()) {
    normalizeTensor(s.mutable_values());
    normalizeTensor(s.mutable_indices());
  }
  normalizeNodes(g->mutable_node());
}

}  // namespace

void normalizeTensorData(onnx::ModelProto* model) {
  normalizeGraph(model->mutable_graph());
  for (auto& f : *model->mutable_functions()) normalizeNodes(f.mutable_node());
}

bool equivalent(const google::protobuf::Message& a, const google::protobuf::Message& b, std::string* diff) {
  google::protobuf::util::MessageDifferencer differ;
  differ.set_message_field_comparison(google::protobuf::util::MessageDifferencer::EQUIVALENT);
  differ.ReportDifferencesToString(diff);
  return differ.Compare(a, b);
}

std::string makeTempDir() {
  static int counter = 0;
  fs::path dir = fs::temp_directory_path() / ("nnc-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::create_directories(dir);
  return dir.string();
}

}  // namespace nnc::test

#include <gtest/gtest.h>
#include <onnx/defs/parser.h>

#include "nncompress/onnx/import.h"

namespace nnc::test {

onnx::ModelProto parseText(const char* text) {
  onnx::ModelProto model;
  onnx::OnnxParser parser(text);
  auto status = parser.Parse(model);
  EXPECT_TRUE(status.IsOK()) << status.ErrorMessage();
  return model;
}

Model importText(const char* text) {
  onnx::ModelProto proto = parseText(text);
  auto model = importModel(proto, "");
  EXPECT_TRUE(model.isOk()) << model.status().message();
  return std::move(model).value();
}

int countOps(const Model& model, const std::string& op) {
  int n = 0;
  forEachNode(*model.graph, [&](Node& node) { n += node.op_type == op ? 1 : 0; });
  return n;
}

void writeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace nnc::test

namespace nnc::test {
std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}
}  // namespace nnc::test

#include <sys/wait.h>

#include <cstdlib>

namespace nnc::test {

ShellResult shell(const std::string& command) {
  std::string dir = makeTempDir();
  std::string cmd = "(" + command + ") > " + dir + "/out 2> " + dir + "/err";
  int status = std::system(cmd.c_str());
  ShellResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, readFile(dir + "/out"), readFile(dir + "/err")};
  std::filesystem::remove_all(dir);
  return r;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string modelsDir() {
  const char* env = std::getenv("NNC_MODELS_DIR");
  return env && *env ? env : sourceDir() + "/models";
}

}  // namespace nnc::test

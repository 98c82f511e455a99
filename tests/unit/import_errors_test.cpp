// Bad input is refused with one clear error naming the problem, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "nncompress/onnx/import.h"
#include "test_util.h"

namespace nnc {
namespace {

onnx::ModelProto smallModel() {
  return test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2] x) => (float[2] y) <float[2] w = {1.0, 2.0}> { y = Add(x, w) }
)");
}

Status loadBytes(const std::string& bytes, const std::string& dir) {
  std::string path = dir + "/model.onnx";
  test::writeFile(path, bytes);
  return loadModel(path).status();
}

class ImportErrors : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::makeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Status load(const onnx::ModelProto& proto) { return loadBytes(proto.SerializeAsString(), dir_); }
  std::string dir_;
};

void expectError(const Status& status, ErrorCode code, const std::string& fragment) {
  EXPECT_EQ(status.code(), code) << status.message();
  EXPECT_NE(status.message().find(fragment), std::string::npos) << status.message();
  EXPECT_EQ(status.message().find('\n'), std::string::npos) << "error is not one line";
}

TEST_F(ImportErrors, MissingFile) { expectError(loadModel(dir_ + "/nope.onnx").status(), ErrorCode::kIo, "nope.onnx"); }

TEST_F(ImportErrors, Folder) { expectError(loadModel(dir_).status(), ErrorCode::kIo, "is a folder"); }

TEST_F(ImportErrors, EmptyFile) { expectError(loadBytes("", dir_), ErrorCode::kInvalidModel, "empty"); }

TEST_F(ImportErrors, RandomBytes) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 50; ++trial) {
    std::string bytes(1 + rng() % 4096, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Status s = loadBytes(bytes, dir_);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidModel) << s.message();
  }
}

TEST_F(ImportErrors, TruncatedModel) {
  std::string bytes = smallModel().SerializeAsString();
  expectError(loadBytes(bytes.substr(0, bytes.size() - 7), dir_), ErrorCode::kInvalidModel, "truncated or corrupt");
}

TEST_F(ImportErrors, Cycle) {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2] x) => (float[2] y) { a = Add(x, b) b = Relu(a) y = Identity(b) }
)");
  expectError(load(proto), ErrorCode::kInvalidModel, "cycle");
}

TEST_F(ImportErrors, InputNothingProduces) {
  auto proto = smallModel();
  proto.mutable_graph()->mutable_node(0)->set_input(1, "ghost");
  proto.mutable_graph()->mutable_node(0)->set_name("add1");
  expectError(load(proto), ErrorCode::kInvalidModel, "node 'add1' (Add): input 'ghost' is not produced");
}

TEST_F(ImportErrors, DataLengthMismatch) {
  auto proto = smallModel();
  proto.mutable_graph()->mutable_initializer(0)->add_dims(3);
  expectError(load(proto), ErrorCode::kInvalidModel, "tensor 'w'");
}

TEST_F(ImportErrors, DimsOverflow) {
  auto proto = smallModel();
  auto* w = proto.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  w->add_dims(1LL << 32);
  w->add_dims(1LL << 32);
  expectError(load(proto), ErrorCode::kInvalidModel, "overflows int64");
}

TEST_F(ImportErrors, UnknownDataType) {
  auto proto = smallModel();
  proto.mutable_graph()->mutable_initializer(0)->set_data_type(99);
  expectError(load(proto), ErrorCode::kInvalidModel, "unknown data type 99");
}

void makeExternal(onnx::TensorProto* t, const std::string& location, const std::string& offset, const std::string& length) {
  t->clear_float_data();
  t->clear_raw_data();
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const char* k, const std::string& v) {
    auto* kv = t->add_external_data();
    kv->set_key(k);
    kv->set_value(v);
  };
  add("location", location);
  add("offset", offset);
  add("length", length);
}

TEST_F(ImportErrors, ExternalDataOutsideTheFolder) {
  for (const char* location : {"../w.bin", "/etc/passwd", "sub/../../w.bin"}) {
    auto proto = smallModel();
    makeExternal(proto.mutable_graph()->mutable_initializer(0), location, "0", "8");
    expectError(load(proto), ErrorCode::kInvalidModel, "tensor 'w'");
  }
}

TEST_F(ImportErrors, ExternalDataPastTheEnd) {
  test::writeFile(dir_ + "/w.bin", std::string(12, '\0'));
  auto proto = smallModel();
  makeExternal(proto.mutable_graph()->mutable_initializer(0), "w.bin", "8", "8");
  expectError(load(proto), ErrorCode::kInvalidModel, "past the end");
  // Inside the file, it loads.
  proto = smallModel();
  makeExternal(proto.mutable_graph()->mutable_initializer(0), "w.bin", "4", "8");
  EXPECT_TRUE(load(proto).isOk());
}

TEST_F(ImportErrors, DuplicateProducer) {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2] x) => (float[2] y) { y = Relu(x) y = Neg(x) }
)");
  expectError(load(proto), ErrorCode::kInvalidModel, "also produced by another node");
}

}  // namespace
}  // namespace nnc

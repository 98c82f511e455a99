// Lossless round trip over every model of Debian's libonnx-testdata (node, pytorch-converted,
// pytorch-operator, simple) and the bundled models: import -> export gives the same ModelProto
// (tensor data compared after an independent normalization to raw_data), the export passes the
// ONNX checker whenever the input did, exporting is deterministic, and files written with and
// without external data read back to the same model.
#include <gtest/gtest.h>

#include <filesystem>

#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "test_util.h"

namespace nnc {
namespace {

std::vector<std::string> allModels() {
  std::vector<std::string> files;
  for (const char* sub : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    auto found = test::findOnnxFiles(test::onnxTestDataRoot() + "/" + sub);
    files.insert(files.end(), found.begin(), found.end());
  }
  auto bundled = test::findOnnxFiles(test::sourceDir() + "/models");
  files.insert(files.end(), bundled.begin(), bundled.end());
  return files;
}

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, ExportEqualsInput) {
  const std::string& path = GetParam();
  onnx::ModelProto original;
  ASSERT_TRUE(test::readProto(path, &original)) << path;
  auto model = loadModel(path);
  ASSERT_TRUE(model.isOk()) << model.status().message();

  onnx::ModelProto exported;
  exportModel(*model, &exported);
  test::normalizeTensorData(&original);
  std::string diff;
  EXPECT_TRUE(test::equivalent(original, exported, &diff)) << diff;

  CheckReport before = checkModelFile(path);
  if (before.result == CheckResult::kValid) {
    CheckReport after = checkModel(*model);
    EXPECT_EQ(after.result, CheckResult::kValid) << after.message;
  }

  auto bytes = serializeModel(*model);
  ASSERT_TRUE(bytes.isOk());
  auto again = serializeModel(*model);
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(*bytes, *again) << "export is not deterministic";
  auto reimported = parseModel(bytes->data(), bytes->size());
  ASSERT_TRUE(reimported.isOk()) << reimported.status().message();
  auto bytes2 = serializeModel(*reimported);
  ASSERT_TRUE(bytes2.isOk());
  EXPECT_EQ(*bytes, *bytes2) << "import(export(m)) differs from m";
}

TEST_P(RoundTrip, FilesWithAndWithoutExternalData) {
  const std::string& path = GetParam();
  auto model = loadModel(path);
  ASSERT_TRUE(model.isOk()) << model.status().message();
  auto expected = serializeModel(*model);
  ASSERT_TRUE(expected.isOk());

  std::string dir = test::makeTempDir();
  SaveOptions inline_options;
  ASSERT_TRUE(saveModel(*model, dir + "/inline.onnx", inline_options).isOk());
  onnx::ModelProto written, reference;
  ASSERT_TRUE(test::readProto(dir + "/inline.onnx", &written));
  exportModel(*model, &reference);
  std::string diff;
  EXPECT_TRUE(test::equivalent(reference, written, &diff)) << diff;

  SaveOptions external_options;
  external_options.external_data = true;
  external_options.external_threshold = 0;
  ASSERT_TRUE(saveModel(*model, dir + "/external.onnx", external_options).isOk());
  auto from_external = loadModel(dir + "/external.onnx");
  ASSERT_TRUE(from_external.isOk()) << from_external.status().message();
  auto external_bytes = serializeModel(*from_external);
  ASSERT_TRUE(external_bytes.isOk());
  EXPECT_EQ(*expected, *external_bytes) << "external data round trip changed the model";
  std::filesystem::remove_all(dir);
}

std::string caseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string rel = info.param;
  for (const std::string& root : {test::onnxTestDataRoot() + "/", test::sourceDir() + "/"})
    if (rel.rfind(root, 0) == 0) rel = rel.substr(root.size());
  std::string name;
  for (char c : rel) name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Models, RoundTrip, ::testing::ValuesIn(allModels()), caseName);

}  // namespace
}  // namespace nnc

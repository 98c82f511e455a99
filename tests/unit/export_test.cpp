// Export: deterministic bytes, atomic writes, --force semantics, external data layout.
#include <gtest/gtest.h>

#include <filesystem>

#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

Model bigWeightModel() {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[4096] x) => (float[4096] y) <float[1] w = {0.0}> { y = Add(x, w) }
)");
  auto model = importModel(proto, "");
  EXPECT_TRUE(model.isOk());
  Graph& g = *model->graph;
  std::vector<float> values(4096);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f;
  g.replaceInitializer(g.findValue("w"), Tensor::fromValues(DType::kFloat, {4096}, values));
  return std::move(model).value();
}

TEST(Export, RefusesToOverwriteWithoutForce) {
  std::string dir = test::makeTempDir();
  Model model = bigWeightModel();
  test::writeFile(dir + "/out.onnx", "keep me");
  auto result = saveModel(model, dir + "/out.onnx", {});
  EXPECT_EQ(result.status().code(), ErrorCode::kOutputExists);
  EXPECT_EQ(test::readFile(dir + "/out.onnx"), "keep me");
  SaveOptions force;
  force.overwrite = true;
  EXPECT_TRUE(saveModel(model, dir + "/out.onnx", force).isOk());
  EXPECT_NE(test::readFile(dir + "/out.onnx"), "keep me");
  // No temporary files are left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
  fs::remove_all(dir);
}

TEST(Export, FailsCleanlyWhenTheFolderIsMissing) {
  auto result = saveModel(bigWeightModel(), "/nonexistent-folder/out.onnx", {});
  EXPECT_EQ(result.status().code(), ErrorCode::kIo);
}

TEST(Export, ExternalDataIsAlignedAndReadBack) {
  std::string dir = test::makeTempDir();
  Model model = bigWeightModel();
  SaveOptions options;
  options.external_data = true;
  auto result = saveModel(model, dir + "/m.onnx", options);
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(result->external_path, dir + "/m.onnx.data");
  EXPECT_EQ(result->external_bytes, 4096u * 4);
  onnx::ModelProto proto;
  ASSERT_TRUE(test::readProto(dir + "/m.onnx", &proto));
  const auto& w = proto.graph().initializer(0);
  EXPECT_EQ(w.data_location(), onnx::TensorProto::EXTERNAL);
  EXPECT_EQ(w.external_data(0).value(), "m.onnx.data");
  auto reloaded = loadModel(dir + "/m.onnx");
  ASSERT_TRUE(reloaded.isOk()) << reloaded.status().message();
  const Tensor* t = reloaded->graph->findValue("w")->initializer();
  EXPECT_EQ(t->dataAs<float>()[4095], 4095 * 0.5f);
  // Small files stay inline: 16 KB of weights below a 1 MB threshold.
  options.external_threshold = 1 << 20;
  options.overwrite = true;
  auto inline_result = saveModel(model, dir + "/m2.onnx", options);
  ASSERT_TRUE(inline_result.isOk());
  EXPECT_EQ(inline_result->external_bytes, 0u);
  fs::remove_all(dir);
}

TEST(Export, SameModelSameBytes) {
  std::string dir = test::makeTempDir();
  Model model = bigWeightModel();
  ASSERT_TRUE(saveModel(model, dir + "/a.onnx", {}).isOk());
  ASSERT_TRUE(saveModel(model, dir + "/b.onnx", {}).isOk());
  EXPECT_EQ(test::readFile(dir + "/a.onnx"), test::readFile(dir + "/b.onnx"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nnc

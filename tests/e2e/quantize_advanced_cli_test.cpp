// `nncompress quantize --cle / --smoothquant [ALPHA] / --bias-correction` as a user runs them:
// the written models record the methods in nncompress.quantize, score in ONNX Runtime what
// nncompress reports, are byte-identical across runs, and misuse exits with code 2. The gains
// themselves are measured in tests/unit/quant_advanced_test.cpp.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>

#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/import.h"
#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

using test::modelsDir;
using test::quote;
using test::shell;
using test::ShellResult;

ShellResult nnc(const std::string& args) { return shell(quote(NNC_BINARY) + " " + args); }

std::string calibData() {
  return " --calib-data " + quote(modelsDir() + "/data/fashion_mnist_calib_500_x.npy") + " --scale 1/255 --calib-samples 200";
}
std::string testData() {
  return " --data " + quote(modelsDir() + "/data/fashion_mnist_test_2000_x.npy") + " --labels " +
         quote(modelsDir() + "/data/fashion_mnist_test_2000_y.npy") + " --scale 1/255 --batch-size 100";
}

std::string ortMissing() {
  if (shell("command -v node").exit_code != 0) return "node not found";
  if (!fs::exists(test::sourceDir() + "/tools/ort/node_modules/onnxruntime-node/package.json"))
    return "onnxruntime-node not installed (run tools/ort/install.sh)";
  return "";
}

nlohmann::json quantizeRecord(const std::string& path) {
  auto model = loadModel(path);
  EXPECT_TRUE(model.isOk()) << model.status().message();
  if (!model) return {};
  std::map<std::string, std::string> meta(model->metadata_props.begin(), model->metadata_props.end());
  EXPECT_TRUE(meta.count("nncompress.quantize"));
  EXPECT_NE(checkModel(*model).result, CheckResult::kInvalid);
  return nlohmann::json::parse(meta["nncompress.quantize"]);
}

// Top-1 correct in nncompress and, when available, in ONNX Runtime (which must agree within 0.1 point).
void expectSameAccuracyInOrt(const std::string& path) {
  auto ours = nnc("--json eval " + quote(path) + testData());
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  const int64_t correct = nlohmann::json::parse(ours.out)["top1_correct"].get<int64_t>();
  if (!ortMissing().empty()) GTEST_SKIP() << ortMissing();
  auto ort = shell("node " + quote(test::sourceDir() + "/tools/ort/ort_eval.js") + " " + quote(path) + testData());
  ASSERT_EQ(ort.exit_code, 0) << ort.err;
  EXPECT_LE(std::abs(nlohmann::json::parse(ort.out)["top1_correct"].get<int64_t>() - correct), 2);
}

class QuantizeAdvancedCli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::makeTempDir(); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(QuantizeAdvancedCli, CleAndBiasCorrectionOnPerTensorMobileNet) {
  const std::string model = quote(modelsDir() + "/mobilenet_small.onnx");
  const std::string a = dir_ + "/a.onnx", b = dir_ + "/b.onnx";
  for (const std::string& out : {a, b}) {
    auto q = nnc("quantize " + model + " -o " + quote(out) + calibData() + " --per-tensor --cle --bias-correction");
    ASSERT_EQ(q.exit_code, 0) << q.err;
  }
  EXPECT_EQ(test::readFile(a), test::readFile(b));
  const nlohmann::json record = quantizeRecord(a);
  EXPECT_EQ(record["cross_layer_equalization"]["pairs"], 10);
  EXPECT_EQ(record["bias_correction"]["layers"], 12);
  EXPECT_EQ(record["bias_correction"]["samples"], 200);
  EXPECT_EQ(record["weights"], "int8 symmetric per-tensor [-63,63]");
  expectSameAccuracyInOrt(a);
}

TEST_F(QuantizeAdvancedCli, SmoothQuantOnTransformer) {
  const std::string out = dir_ + "/t.onnx";
  auto q = nnc("quantize " + quote(modelsDir() + "/tiny_transformer.onnx") + " -o " + quote(out) + calibData() +
               " --activations int8 --smoothquant=0.6");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const nlohmann::json record = quantizeRecord(out);
  EXPECT_EQ(record["smoothquant"]["alpha"], 0.6);
  EXPECT_EQ(record["smoothquant"]["folded_into_layernorm"], 4);
  EXPECT_EQ(record["activations"], "int8");
  auto j = nnc("-q --json quantize " + quote(modelsDir() + "/tiny_transformer.onnx") + " -o " + quote(dir_ + "/j.onnx") + calibData() +
               " --smoothquant");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const nlohmann::json summary = nlohmann::json::parse(j.out);
  EXPECT_EQ(summary["preparations"]["smoothquant"]["alpha"], 0.5);
  EXPECT_EQ(summary["preparations"]["smoothquant"]["layers"], 14);  // q, k, v, proj, fc1, fc2 of 2 layers, embed, head
  expectSameAccuracyInOrt(out);
}

TEST_F(QuantizeAdvancedCli, MisuseExitsWithUsageCode) {
  const std::string model = quote(modelsDir() + "/tiny_transformer.onnx");
  const std::string out = " -o " + quote(dir_ + "/x.onnx");
  const std::string ranges = dir_ + "/r.json";
  ASSERT_EQ(nnc("-q calibrate " + model + " -o " + quote(ranges) + calibData()).exit_code, 0);
  auto cle_ranges = nnc("quantize " + model + out + " --ranges " + quote(ranges) + " --cle");
  EXPECT_EQ(cle_ranges.exit_code, 2);
  EXPECT_NE(cle_ranges.err.find("need --calib-data"), std::string::npos) << cle_ranges.err;
  EXPECT_EQ(nnc("quantize " + model + out + calibData() + " --smoothquant=1.5").exit_code, 2);
  EXPECT_EQ(nnc("quantize " + model + out + calibData() + " --smoothquant=abc").exit_code, 2);
  EXPECT_EQ(nnc("quantize " + model + out + " --dynamic --bias-correction").exit_code, 2);
  EXPECT_EQ(nnc("quantize " + model + out + calibData() + " --bias-correction --min-agreement 99" + testData()).exit_code, 2);
  EXPECT_FALSE(fs::exists(dir_ + "/x.onnx"));
}

}  // namespace
}  // namespace nnc

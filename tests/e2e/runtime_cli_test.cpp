// run / eval / compare / bench as a user runs them, on small models with hand-computed answers.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sys/wait.h>

#include "nncompress/data/npy.h"
#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

struct RunResult {
  int exit_code;
  std::string out, err;
};

RunResult run(const std::string& args) {
  std::string dir = test::makeTempDir();
  std::string cmd = std::string(NNC_BINARY) + " " + args + " > " + dir + "/out 2> " + dir + "/err";
  int status = std::system(cmd.c_str());
  RunResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::readFile(dir + "/out"), test::readFile(dir + "/err")};
  fs::remove_all(dir);
  return r;
}

class RuntimeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::makeTempDir();
    // A 3-class "classifier": logits = x * w (broadcast over the batch).
    auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,3] x) => (float[N,3] logits) <float[3] w = {1.0, 2.0, 3.0}> { logits = Mul(x, w) }
)");
    test::writeFile(dir_ + "/clf.onnx", proto.SerializeAsString());
    // The same with the last weight changed: disagrees on samples where class 2 won narrowly.
    auto other = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,3] x) => (float[N,3] logits) <float[3] w = {1.0, 2.0, 1.0}> { logits = Mul(x, w) }
)");
    test::writeFile(dir_ + "/clf2.onnx", other.SerializeAsString());
    // 4 samples of uint8 pixels; with w = (1,2,3): argmax = 2, 1, 0, 2.
    std::vector<uint8_t> x = {1, 1, 1, /**/ 0, 5, 2, /**/ 9, 1, 1, /**/ 0, 0, 4};
    ASSERT_TRUE(writeNpy(dir_ + "/x.npy", Tensor::fromValues<uint8_t>(DType::kUInt8, {4, 3}, x), true).isOk());
    // Labels: three right, one wrong (sample 3 is labeled 1).
    ASSERT_TRUE(writeNpy(dir_ + "/y.npy", Tensor::fromValues<int64_t>(DType::kInt64, {4}, {2, 1, 0, 1}), true).isOk());
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(RuntimeCli, EvalCountsTop1AndTop5) {
  auto r = run("eval " + dir_ + "/clf.onnx --data " + dir_ + "/x.npy --labels " + dir_ + "/y.npy --batch-size 3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["samples"], 4);
  EXPECT_EQ(j["top1_correct"], 3);
  EXPECT_EQ(j["top5_correct"], 4);
  // Scaling does not change the argmax of a linear model.
  auto scaled = run("eval " + dir_ + "/clf.onnx --data " + dir_ + "/x.npy --labels " + dir_ + "/y.npy --scale 1/255 --json");
  ASSERT_EQ(scaled.exit_code, 0) << scaled.err;
  EXPECT_EQ(nlohmann::json::parse(scaled.out)["top1_correct"], 3);
}

TEST_F(RuntimeCli, EvalRejectsMismatchedLabels) {
  ASSERT_TRUE(writeNpy(dir_ + "/y3.npy", Tensor::fromValues<int64_t>(DType::kInt64, {3}, {0, 1, 2}), true).isOk());
  auto r = run("eval " + dir_ + "/clf.onnx --data " + dir_ + "/x.npy --labels " + dir_ + "/y3.npy");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("3 labels for 4 samples"), std::string::npos) << r.err;
  auto missing = run("eval " + dir_ + "/clf.onnx --data " + dir_ + "/nope.npy --labels " + dir_ + "/y.npy");
  EXPECT_EQ(missing.exit_code, 5) << missing.err;
}

TEST_F(RuntimeCli, RunWritesOutputsAsNpy) {
  auto r = run("run " + dir_ + "/clf.onnx --input x=" + dir_ + "/x.npy -o " + dir_ + "/out");
  // x.npy is uint8 but the model wants float: run feeds files as they are, so this is refused.
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("must be float"), std::string::npos) << r.err;
  ASSERT_TRUE(writeNpy(dir_ + "/xf.npy", Tensor::fromValues<float>(DType::kFloat, {1, 3}, {1.0f, -1.0f, 0.5f}), true).isOk());
  r = run("run " + dir_ + "/clf.onnx --input x=" + dir_ + "/xf.npy -o " + dir_ + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto logits = readNpy(dir_ + "/out/logits.npy");
  ASSERT_TRUE(logits.isOk());
  EXPECT_EQ(logits->shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(logits->dataAs<float>()[1], -2.0f);
  EXPECT_EQ(logits->dataAs<float>()[2], 1.5f);
  // Random inputs are seeded: the same seed gives the same bytes.
  auto a = run("run " + dir_ + "/clf.onnx --random --batch 5 --seed 7 -o " + dir_ + "/ra");
  auto b = run("run " + dir_ + "/clf.onnx --random --batch 5 --seed 7 -o " + dir_ + "/rb");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(test::readFile(dir_ + "/ra/logits.npy"), test::readFile(dir_ + "/rb/logits.npy"));
}

TEST_F(RuntimeCli, CompareReportsAgreementAndErrors) {
  auto same = run("compare " + dir_ + "/clf.onnx " + dir_ + "/clf.onnx --data " + dir_ + "/x.npy --json");
  ASSERT_EQ(same.exit_code, 0) << same.err;
  auto j = nlohmann::json::parse(same.out);
  EXPECT_EQ(j["outputs"][0]["max_abs"], 0.0);
  EXPECT_EQ(j["top1_agreement"], 1.0);
  auto diff = run("compare " + dir_ + "/clf.onnx " + dir_ + "/clf2.onnx --data " + dir_ + "/x.npy --json --per-layer");
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  auto k = nlohmann::json::parse(diff.out);
  // Third logit differs by 2*x[2]: max over samples is 2*4 = 8. Only sample 0 changes its argmax
  // (1,2,3) -> (1,2,1): class 2 -> class 1; sample 3 (0,0,4) keeps class 2.
  EXPECT_DOUBLE_EQ(k["outputs"][0]["max_abs"].get<double>(), 8.0);
  EXPECT_DOUBLE_EQ(k["top1_agreement"].get<double>(), 0.75);
}

TEST_F(RuntimeCli, BenchPrintsLatencyAndProfile) {
  auto r = run("bench " + dir_ + "/clf.onnx --batch-sizes 1,8 --runs 3 --min-seconds 0 --profile --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][1]["batch"], 8);
  EXPECT_GT(j["results"][0]["p50_ms"].get<double>(), 0.0);
  EXPECT_GT(j["peak_rss_bytes"].get<double>(), 0.0);
  EXPECT_EQ(j["profile"][0]["op"], "Mul");
}

}  // namespace
}  // namespace nnc

namespace nnc {
namespace {

// canonicalize on the bundled CNNs: every BatchNormalization folded, outputs unchanged.
TEST(CanonicalizeCli, FoldsBatchNormOnBundledCnns) {
  for (const char* name : {"cnn_bn", "resnet_small", "mobilenet_small"}) {
    std::string model = test::sourceDir() + "/models/" + name + ".onnx";
    std::string dir = test::makeTempDir();
    auto r = run("--json canonicalize " + model + " -o " + dir + "/out.onnx --shape input=8x1x28x28");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_GT(j["stats"]["batchnorms_folded"].get<int>(), 0) << name;
    EXPECT_LT(j["max_abs_output_difference"].get<double>(), 1e-4) << name;
    auto inspect = run("--json inspect " + dir + "/out.onnx");
    auto k = nlohmann::json::parse(inspect.out);
    EXPECT_FALSE(k["op_histogram"].contains("BatchNormalization")) << name;
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace nnc

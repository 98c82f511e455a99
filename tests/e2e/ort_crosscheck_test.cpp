// nncompress's runtime against ONNX Runtime (tools/ort, onnxruntime-node) on the bundled models:
//   (a) tools/ort/crosscheck.sh MODEL: same seeded inputs, float outputs within rtol 1e-4 / atol 1e-5;
//   (b) `nncompress eval --json` and tools/ort/ort_eval.js on the 2000-sample Fashion-MNIST test
//       split (uint8 / 255): identical top1_correct and top5_correct.
// Needs node and tools/ort/node_modules/onnxruntime-node (tools/ort/install.sh) and the bundled
// models (models/, or NNC_MODELS_DIR). Without them the tests are skipped, unless NNC_REQUIRE_ORT=1:
// then they fail.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>

#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

using test::modelsDir;
using test::quote;
using test::shell;
using test::ShellResult;

// Why ORT cross-checks cannot run here ("" when they can).
std::string missingPrerequisite() {
  if (shell("command -v node").exit_code != 0) return "node not found";
  const std::string ort = test::sourceDir() + "/tools/ort/node_modules/onnxruntime-node/package.json";
  if (!fs::exists(ort)) return "onnxruntime-node not installed (run tools/ort/install.sh)";
  for (const char* f : {"/data/fashion_mnist_test_2000_x.npy", "/data/fashion_mnist_test_2000_y.npy"})
    if (!fs::exists(modelsDir() + f)) return "no " + modelsDir() + f;
  return "";
}

class OrtCrosscheck : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string why = missingPrerequisite();
    if (why.empty() && !fs::exists(model())) why = "no " + model();
    if (why.empty()) return;
    const char* require = std::getenv("NNC_REQUIRE_ORT");
    if (require && std::string(require) == "1") FAIL() << "NNC_REQUIRE_ORT=1 but " << why;
    GTEST_SKIP() << why << " (set NNC_REQUIRE_ORT=1 to make this a failure)";
  }
  std::string model() const { return modelsDir() + "/" + GetParam() + ".onnx"; }
};

TEST_P(OrtCrosscheck, OutputsMatchOnnxRuntime) {
  const std::string work = test::makeTempDir();
  auto r = shell("NNCOMPRESS=" + quote(NNC_BINARY) + " NNC_WORK=" + quote(work) + " " +
                 quote(test::sourceDir() + "/tools/ort/crosscheck.sh") + " " + quote(model()));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 of 1 models ok"), std::string::npos) << r.out << r.err;
  fs::remove_all(work);
}

TEST_P(OrtCrosscheck, EvalAccuracyEqualsOnnxRuntime) {
  const std::string data = " --data " + quote(modelsDir() + "/data/fashion_mnist_test_2000_x.npy") + " --labels " +
                           quote(modelsDir() + "/data/fashion_mnist_test_2000_y.npy") + " --scale 1/255 --batch-size 100";
  auto nnc = shell(quote(NNC_BINARY) + " -q eval " + quote(model()) + data + " --json");
  ASSERT_EQ(nnc.exit_code, 0) << nnc.err;
  auto ort = shell("node " + quote(test::sourceDir() + "/tools/ort/ort_eval.js") + " " + quote(model()) + data);
  ASSERT_EQ(ort.exit_code, 0) << ort.err;
  auto a = nlohmann::json::parse(nnc.out), b = nlohmann::json::parse(ort.out);
  EXPECT_EQ(a["samples"], 2000);
  EXPECT_EQ(b["samples"], 2000);
  EXPECT_EQ(a["top1_correct"], b["top1_correct"]) << "nncompress: " << nnc.out << "ORT: " << ort.out;
  EXPECT_EQ(a["top5_correct"], b["top5_correct"]) << "nncompress: " << nnc.out << "ORT: " << ort.out;
  // A sanity floor: every bundled model is above 80% top-1 on this split.
  EXPECT_GT(a["top1_correct"].get<int>(), 1600) << nnc.out;
}

INSTANTIATE_TEST_SUITE_P(Bundled, OrtCrosscheck,
                         ::testing::Values("cnn_bn", "resnet_small", "mobilenet_small", "mlp", "tiny_transformer"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace nnc

// `nncompress quantize --max-accuracy-drop / --min-agreement` as a user runs it: on a bundled
// classifier with a budget tighter than what quantizing everything gives, nodes go back to float,
// and the written model meets the budget as `nncompress eval` measures it; the file passes the
// ONNX checker and records the search; bad option combinations are usage errors (exit 2).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>

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

const std::string kEvalSamples = "600";

std::string calibData() {
  return " --calib-data " + quote(modelsDir() + "/data/fashion_mnist_calib_500_x.npy") + " --calib-samples 100 --scale 1/255 --batch-size 100";
}
std::string evalData() {
  return " --data " + quote(modelsDir() + "/data/fashion_mnist_test_2000_x.npy") + " --labels " +
         quote(modelsDir() + "/data/fashion_mnist_test_2000_y.npy");
}

double evalTop1(const std::string& model) {
  auto r = nnc("-q eval " + quote(model) + evalData() + " --scale 1/255 --batch-size 100 --limit " + kEvalSamples + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? 100.0 * nlohmann::json::parse(r.out)["top1"].get<double>() : -1;
}

TEST(QuantizeSearchCli, TightAccuracyBudgetKeepsSensitiveLayersFloatAndHolds) {
  const std::string input = modelsDir() + "/resnet_small.onnx";
  if (!fs::exists(input)) GTEST_SKIP() << "no " << input;
  const std::string dir = test::makeTempDir();
  // Per-tensor weights with 100 calibration samples lose accuracy on these samples: the
  // precondition is checked, so the budget of 0 points has work to do.
  auto plain = nnc("-q quantize " + quote(input) + " -o " + quote(dir + "/all.onnx") + calibData() + " --per-tensor");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const double float_top1 = evalTop1(input);
  const double all_top1 = evalTop1(dir + "/all.onnx");
  ASSERT_LT(all_top1, float_top1) << "quantizing everything loses nothing here: the test needs a model where it does";

  const std::string out = dir + "/q.onnx";
  auto q = nnc("-q quantize " + quote(input) + " -o " + quote(out) + calibData() + " --per-tensor --max-accuracy-drop 0" +
               evalData() + " --eval-samples " + kEvalSamples + " --json");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const auto j = nlohmann::json::parse(q.out);
  const auto& s = j["accuracy_search"];
  EXPECT_EQ(s["metric"], "top1_accuracy");
  EXPECT_EQ(s["samples"], 600);
  EXPECT_NEAR(s["float"].get<double>(), float_top1, 1e-9);
  EXPECT_NEAR(s["all_quantized"].get<double>(), all_top1, 1e-9);
  EXPECT_TRUE(s["budget_met"].get<bool>());
  ASSERT_GE(s["kept_float"].size(), 1u);
  EXPECT_GT(j["stats"]["quantized_nodes"].get<int>(), 0);
  for (const auto& layer : s["layers"]) EXPECT_TRUE(layer["measured"].get<bool>()) << layer;

  // The written model, measured by eval, meets the budget and scores what the search reported.
  const double written = evalTop1(out);
  EXPECT_GE(written, float_top1 - 1e-9);
  EXPECT_NEAR(written, s["result"].get<double>(), 1e-9);
  EXPECT_EQ(checkModelFile(out).result, CheckResult::kValid);
  auto model = loadModel(out);
  ASSERT_TRUE(model.isOk());
  std::map<std::string, std::string> meta(model->metadata_props.begin(), model->metadata_props.end());
  const auto recorded = nlohmann::json::parse(meta["nncompress.accuracy_search"]);
  EXPECT_EQ(recorded["kept_float"], s["kept_float"]);

  // ONNX Runtime runs the partly float model and scores it like nncompress on all 2000 samples.
  if (!fs::exists(test::sourceDir() + "/tools/ort/node_modules/onnxruntime-node/package.json") ||
      shell("command -v node").exit_code != 0) {
    fs::remove_all(dir);
    const char* require = std::getenv("NNC_REQUIRE_ORT");
    if (require && std::string(require) == "1") FAIL() << "NNC_REQUIRE_ORT=1 but ONNX Runtime is not installed";
    GTEST_SKIP() << "onnxruntime-node not installed (run tools/ort/install.sh)";
  }
  const std::string all = evalData() + " --scale 1/255 --batch-size 100";
  auto ours = nnc("-q eval " + quote(out) + all + " --json");
  auto ort = shell("node " + quote(test::sourceDir() + "/tools/ort/ort_eval.js") + " " + quote(out) + all);
  ASSERT_EQ(ours.exit_code, 0) << ours.err;
  ASSERT_EQ(ort.exit_code, 0) << ort.err;
  EXPECT_LE(std::abs(nlohmann::json::parse(ours.out)["top1_correct"].get<int>() -
                     nlohmann::json::parse(ort.out)["top1_correct"].get<int>()),
            2)  // 0.1 point of 2000
      << "nncompress " << ours.out << " ONNX Runtime " << ort.out;
  fs::remove_all(dir);
}

TEST(QuantizeSearchCli, AgreementTimeBudgetAndUsageErrors) {
  const std::string input = modelsDir() + "/cnn_bn.onnx";
  if (!fs::exists(input)) GTEST_SKIP() << "no " << input;
  const std::string dir = test::makeTempDir();
  const std::string x = " --data " + quote(modelsDir() + "/data/fashion_mnist_test_2000_x.npy");
  // A time budget too small for any sensitivity trial: the all-quantized model is written.
  auto q = nnc("-q quantize " + quote(input) + " -o " + quote(dir + "/a.onnx") + calibData() + " --min-agreement 100" + x +
               " --eval-samples 200 --time-budget 0.000001 --json");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const auto s = nlohmann::json::parse(q.out)["accuracy_search"];
  EXPECT_EQ(s["metric"], "top1_agreement");
  EXPECT_EQ(s["trials"], 2);
  EXPECT_NEAR(s["result"].get<double>(), s["all_quantized"].get<double>(), 1e-12);
  EXPECT_TRUE(s["kept_float"].empty());
  EXPECT_TRUE(fs::exists(dir + "/a.onnx"));

  const std::string base = "-q quantize " + quote(input) + " -o " + quote(dir + "/b.onnx") + calibData();
  EXPECT_EQ(nnc(base + " --max-accuracy-drop 1" + x).exit_code, 2);  // no labels
  EXPECT_EQ(nnc(base + " --max-accuracy-drop 1").exit_code, 2);      // no data
  EXPECT_EQ(nnc(base + " --max-accuracy-drop 1 --min-agreement 99" + x).exit_code, 2);
  EXPECT_EQ(nnc(base + x).exit_code, 2);  // --data without a budget
  EXPECT_EQ(nnc("-q quantize " + quote(input) + " -o " + quote(dir + "/b.onnx") + " --dynamic --min-agreement 99" + x).exit_code, 2);
  EXPECT_FALSE(fs::exists(dir + "/b.onnx"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nnc

// `nncompress prune` end to end on the bundled models: outputs pass the ONNX checker, run in ONNX
// Runtime with the same outputs as in nncompress, have the sparsity asked for (N:M patterns
// checked element by element), are byte-identical across runs; --sparse-storage files are smaller
// and give the same accuracy in both runtimes; bad command lines exit with the documented codes.
// ORT checks are skipped when node/onnxruntime-node are missing, unless NNC_REQUIRE_ORT=1.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>

#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/pass.h"
#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

using test::modelsDir;
using test::quote;
using test::shell;
using test::ShellResult;

std::string models() { return modelsDir(); }
std::string model(const std::string& name) { return models() + "/" + name + ".onnx"; }
ShellResult nnc(const std::string& args) { return shell(quote(NNC_BINARY) + " " + args); }

std::string testData() {
  return " --data " + quote(models() + "/data/fashion_mnist_test_2000_x.npy") + " --labels " +
         quote(models() + "/data/fashion_mnist_test_2000_y.npy") + " --scale 1/255 --batch-size 100";
}

// Why ORT cannot run here ("" when it can); a failure instead of a skip with NNC_REQUIRE_ORT=1.
std::string ortMissing() {
  if (shell("command -v node").exit_code != 0) return "node not found";
  if (!fs::exists(test::sourceDir() + "/tools/ort/node_modules/onnxruntime-node/package.json"))
    return "onnxruntime-node not installed (run tools/ort/install.sh)";
  return "";
}
#define SKIP_WITHOUT_ORT()                                                                  \
  do {                                                                                      \
    std::string why = ortMissing();                                                         \
    if (!why.empty()) {                                                                     \
      const char* require = std::getenv("NNC_REQUIRE_ORT");                                 \
      if (require && std::string(require) == "1") FAIL() << "NNC_REQUIRE_ORT=1 but " << why; \
      GTEST_SKIP() << why;                                                                  \
    }                                                                                       \
  } while (0)

// nncompress's runtime against ORT on the same seeded inputs (tools/ort/crosscheck.sh).
void expectSameOutputsInOrt(const std::string& path) {
  auto r = shell("NNCOMPRESS=" + quote(NNC_BINARY) + " " + quote(test::sourceDir() + "/tools/ort/crosscheck.sh") + " " + quote(path));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 of 1 models ok"), std::string::npos) << r.out << r.err;
}

// Top-1/top-5 correct counts in nncompress and in ORT on the 2000-sample test split.
std::pair<nlohmann::json, nlohmann::json> evalBoth(const std::string& path) {
  auto a = nnc("-q eval " + quote(path) + testData() + " --json");
  EXPECT_EQ(a.exit_code, 0) << a.err;
  auto b = shell("node " + quote(test::sourceDir() + "/tools/ort/ort_eval.js") + " " + quote(path) + testData());
  EXPECT_EQ(b.exit_code, 0) << b.err;
  return {nlohmann::json::parse(a.out), nlohmann::json::parse(b.out)};
}

class PruneCli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::makeTempDir(); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string out(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

class PruneBundled : public PruneCli, public ::testing::WithParamInterface<const char*> {};

TEST_P(PruneBundled, HalfSparseModelIsValidAndRunsInOrt) {
  const std::string path = out("pruned.onnx");
  auto r = nnc("prune " + quote(model(GetParam())) + " -o " + quote(path) + " --sparsity 0.5 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["pipeline"], "prune-weights{batch_size=32,granularity=weight,scope=layer,sparsity=0.5}");
  EXPECT_GT(j["stats"]["layers_pruned"].get<int>(), 0);
  EXPECT_NEAR(j["stats"]["pruned_weights_sparsity_after"].get<double>(), 0.5, 1e-3);
  EXPECT_EQ(j["params_after"], j["params_before"]);  // zeros stay in dense tensors
  EXPECT_LT(j["nonzero_params_after"].get<int64_t>(), j["nonzero_params_before"].get<int64_t>());
  CheckReport check = checkModelFile(path);
  EXPECT_EQ(check.result, CheckResult::kValid) << check.message;
  // inspect reports each pruned layer's sparsity as the pass did.
  auto inspect = nnc("inspect --json " + quote(path));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  auto layers = nlohmann::json::parse(inspect.out)["layers"];
  int checked = 0;
  for (const auto& row : j["stats"]["layers"]) {
    if (!row["pruned"].get<bool>()) continue;
    for (const auto& l : layers)
      if (l["name"] == row["name"]) {
        EXPECT_NEAR(l["sparsity"].get<double>(), 0.5, 0.01) << l["name"];
        ++checked;
      }
  }
  EXPECT_EQ(checked, j["stats"]["layers_pruned"].get<int>());
  SKIP_WITHOUT_ORT();
  expectSameOutputsInOrt(path);
}

INSTANTIATE_TEST_SUITE_P(Bundled, PruneBundled,
                         ::testing::Values("cnn_bn", "resnet_small", "mobilenet_small", "mlp", "tiny_transformer"),
                         [](const auto& info) { return std::string(info.param); });

TEST_F(PruneCli, TwoFourPatternAlongInputChannels) {
  const std::string path = out("nm.onnx");
  auto r = nnc("prune " + quote(model("resnet_small")) + " -o " + quote(path) + " --granularity n:m --nm 2:4 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["stats"]["nm"], "2:4");
  auto pruned = loadModel(path);
  ASSERT_TRUE(pruned.isOk()) << pruned.status().message();
  // Every Conv weight [M, C, kh, kw] that was pruned has at most 2 nonzeros in each run of 4
  // input channels at every (output channel, kernel position).
  int convs = 0;
  for (const auto& row : j["stats"]["layers"]) {
    if (!row["pruned"].get<bool>()) continue;
    const Value* v = pruned->graph->findValue(row["weight"].get<std::string>());
    ASSERT_NE(v, nullptr);
    const Tensor& w = *v->initializer();
    ASSERT_EQ(w.shape.size(), 4u);
    const int64_t m = w.shape[0], c = w.shape[1], k = w.shape[2] * w.shape[3];
    const float* x = w.dataAs<float>();
    for (int64_t o = 0; o < m; ++o)
      for (int64_t c0 = 0; c0 < c; c0 += 4)
        for (int64_t i = 0; i < k; ++i) {
          int nonzero = 0;
          for (int64_t dc = 0; dc < 4; ++dc) nonzero += x[(o * c + c0 + dc) * k + i] != 0.0f;
          ASSERT_LE(nonzero, 2) << row["name"] << " o=" << o << " c=" << c0 << " i=" << i;
        }
    ++convs;
  }
  EXPECT_GE(convs, 8);
  EXPECT_EQ(checkModelFile(path).result, CheckResult::kValid);
  // --sparsity must agree with N:M when both are given.
  EXPECT_EQ(nnc("prune " + quote(model("resnet_small")) + " -o " + quote(out("x.onnx")) + " --granularity n:m --sparsity 0.8").exit_code, 2);
}

TEST_F(PruneCli, WandaWithCalibrationDataIsDeterministic) {
  const std::string calib = " --data " + quote(models() + "/data/fashion_mnist_calib_500_x.npy") + " --scale 1/255 --limit 200";
  const std::string args = "prune " + quote(model("mlp")) + " --sparsity 0.7 --importance wanda --scope global --prune-first-last" + calib;
  auto a = nnc(args + " -o " + quote(out("a.onnx")));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.out.find("params 235,148 -> 235,148"), std::string::npos) << a.out;
  EXPECT_NE(a.err.find("calibration"), std::string::npos) << a.err;  // progress lines
  auto b = nnc("-q " + args + " -o " + quote(out("b.onnx")));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.out, "");
  EXPECT_EQ(test::readFile(out("a.onnx")), test::readFile(out("b.onnx")));
  // Different importance, different weights.
  ASSERT_EQ(nnc("-q prune " + quote(model("mlp")) + " --sparsity 0.7 --scope global --prune-first-last -o " + quote(out("c.onnx"))).exit_code, 0);
  EXPECT_NE(test::readFile(out("a.onnx")), test::readFile(out("c.onnx")));
  // Wanda needs data.
  auto no_data = nnc("prune " + quote(model("mlp")) + " --sparsity 0.5 --importance wanda -o " + quote(out("d.onnx")));
  EXPECT_EQ(no_data.exit_code, 2);
  EXPECT_NE(no_data.err.find("--data"), std::string::npos) << no_data.err;
}

TEST_F(PruneCli, SparseStorageIsSmallerAndGivesTheSameAccuracyInOrt) {
  const std::string args = "-q prune " + quote(model("mlp")) + " --sparsity 0.9 --prune-first-last";
  ASSERT_EQ(nnc(args + " -o " + quote(out("dense.onnx"))).exit_code, 0);
  auto r = nnc(args + " --sparse-storage --json -o " + quote(out("sparse.onnx")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["sparse_storage"]["converted"], 3);
  const auto dense_bytes = fs::file_size(out("dense.onnx")), sparse_bytes = fs::file_size(out("sparse.onnx"));
  // 10% nonzero float32 weights cost 12 bytes each sparse: ~0.3 of the dense size.
  EXPECT_LT(sparse_bytes * 10, dense_bytes * 4) << sparse_bytes << " vs " << dense_bytes;
  CheckReport check = checkModelFile(out("sparse.onnx"));
  EXPECT_EQ(check.result, CheckResult::kValid) << check.message;
  auto inspect = nnc("inspect --json " + quote(out("sparse.onnx")));
  auto summary = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(summary["params"], 235148);
  EXPECT_NEAR(summary["layers"][2]["sparsity"].get<double>(), 0.9, 1e-3);  // /fc1/Gemm, from its sparse initializer
  auto dense_eval = nnc("-q eval " + quote(out("dense.onnx")) + testData() + " --json");
  ASSERT_EQ(dense_eval.exit_code, 0) << dense_eval.err;
  SKIP_WITHOUT_ORT();
  auto [ours, ort] = evalBoth(out("sparse.onnx"));
  EXPECT_EQ(ours["top1_correct"], nlohmann::json::parse(dense_eval.out)["top1_correct"]);
  EXPECT_EQ(ours["top1_correct"], ort["top1_correct"]);
  EXPECT_EQ(ours["top5_correct"], ort["top5_correct"]);
  expectSameOutputsInOrt(out("sparse.onnx"));
}

TEST_F(PruneCli, AllZeroWeightBecomesAnEmptySparseInitializer) {
  // 0:4 zeroes every weight of fc2 (the only layer pruned): a sparse initializer with NNZ = 0.
  const std::string path = out("zero.onnx");
  auto r = nnc("prune " + quote(model("mlp")) + " -o " + quote(path) + " --granularity n:m --nm 0:4 --sparse-storage --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto tensors = nlohmann::json::parse(r.out)["sparse_storage"]["tensors"];
  ASSERT_EQ(tensors.size(), 1u);
  EXPECT_EQ(tensors[0]["nonzeros"], 0);
  CheckReport check = checkModelFile(path);
  EXPECT_EQ(check.result, CheckResult::kValid) << check.message;
  SKIP_WITHOUT_ORT();
  auto [ours, ort] = evalBoth(path);
  EXPECT_EQ(ours["top1_correct"], ort["top1_correct"]);
  EXPECT_EQ(ours["top5_correct"], ort["top5_correct"]);
}

TEST_F(PruneCli, DryRunWritesNothing) {
  auto r = nnc("prune " + quote(model("cnn_bn")) + " --sparsity 0.5 --dry-run -o " + quote(out("x.onnx")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("dry run"), std::string::npos) << r.out;
  // The layer table: the first conv kept, the middle ones pruned to 50%.
  EXPECT_NE(r.out.find("first layer (kept by default"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("64x32x3x3              0.0%    50.0%  pruned"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out("x.onnx")));
}

TEST_F(PruneCli, BadCommandLinesExitWithDocumentedCodes) {
  const std::string m = quote(model("cnn_bn"));
  const std::string o = " -o " + quote(out("x.onnx"));
  EXPECT_EQ(nnc("prune " + m + o).exit_code, 2);  // no --sparsity
  EXPECT_EQ(nnc("prune " + m + o + " --sparsity 0.5 --granularity block").exit_code, 2);
  EXPECT_EQ(nnc("prune " + m + o + " --sparsity 0.5 --min-channels 4").exit_code, 2);
  EXPECT_EQ(nnc("prune " + m + o + " --sparsity 0.5 --importance bn-scale").exit_code, 2);
  EXPECT_EQ(nnc("prune " + m + o + " --granularity n:m --nm 2-4").exit_code, 2);
  EXPECT_EQ(nnc("prune " + m + o + " --sparsity 1.5").exit_code, 2);
  EXPECT_EQ(nnc("prune " + m + " --sparsity 0.5").exit_code, 2);  // no -o
  auto missing = nnc("prune " + quote(out("none.onnx")) + o + " --sparsity 0.5");
  EXPECT_EQ(missing.exit_code, 5) << missing.err;
  test::writeFile(out("x.onnx"), "keep");
  EXPECT_EQ(nnc("prune " + m + o + " --sparsity 0.5").exit_code, 6);
  EXPECT_EQ(test::readFile(out("x.onnx")), "keep");
  EXPECT_EQ(nnc("prune " + m + o + " --sparsity 0.5 --force -q").exit_code, 0);
}

TEST_F(PruneCli, StructuredGranularitiesNeedThePruneChannelsPass) {
  const std::vector<std::string> passes = passNames();
  if (std::find(passes.begin(), passes.end(), "prune-channels") != passes.end())
    GTEST_SKIP() << "this build has prune-channels; its own tests cover --granularity channel";
  auto r = nnc("prune " + quote(model("cnn_bn")) + " -o " + quote(out("x.onnx")) + " --sparsity 0.5 --granularity channel");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("'prune-channels' pass"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out("x.onnx")));
}

}  // namespace
}  // namespace nnc

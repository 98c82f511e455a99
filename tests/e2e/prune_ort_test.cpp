// Structured pruning checked by ONNX Runtime: each model is pruned (prune-channels, 50%), must
// pass the ONNX checker, and must run in ORT (tools/ort/ort_run.js) on the same seeded inputs as
// the original with the output shapes the pruned model declares and the original produces.
// Bundled models always; the real CNNs of tools/realmodels (PaddleOCR det/cls with weights in
// Constant nodes, ISNet fp16/quint8) when they are in $NNC_REALMODELS_DIR (default
// ~/.cache/nncompress/realmodels/models), with their ort_run shapes from models.conf.
// Without node/onnxruntime-node (or a real model) the cases are skipped, unless NNC_REQUIRE_ORT=1.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/pass.h"
#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

using test::quote;
using test::shell;
using test::ShellResult;

std::string realModelsDir() {
  if (const char* env = std::getenv("NNC_REALMODELS_DIR"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/nncompress/realmodels/models";
}

// The ort_run.js arguments models.conf gives a model ("" when none).
std::string confArgs(const std::string& file) {
  std::ifstream in(test::sourceDir() + "/tools/realmodels/models.conf");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string first, rest, w;
    words >> first;
    if (first != file) continue;
    while (words >> w) rest += " " + quote(w);
    return rest;
  }
  return "";
}

struct Case {
  const char* file;  // bundled: models/<file>; real: <realModelsDir>/<file>
  bool real;
  const char* granularity;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.file << " " << c.granularity; }

class PruneOrt : public ::testing::TestWithParam<Case> {
 protected:
  std::string path() const {
    return GetParam().real ? realModelsDir() + "/" + GetParam().file : test::sourceDir() + "/models/" + GetParam().file;
  }
  void SetUp() override {
    std::string why;
    if (shell("command -v node").exit_code != 0) why = "node not found";
    else if (!fs::exists(test::sourceDir() + "/tools/ort/node_modules/onnxruntime-node/package.json"))
      why = "onnxruntime-node not installed (run tools/ort/install.sh)";
    else if (!fs::exists(path())) why = "no " + path() + (GetParam().real ? " (run tools/realmodels/fetch.sh)" : "");
    if (why.empty()) return;
    const char* require = std::getenv("NNC_REQUIRE_ORT");
    if (require && std::string(require) == "1" && !GetParam().real) FAIL() << "NNC_REQUIRE_ORT=1 but " << why;
    GTEST_SKIP() << why;
  }
};

// Output name -> shape from ort_run.js's summary line.
std::map<std::string, std::vector<int64_t>> outputShapes(const std::string& summary) {
  std::map<std::string, std::vector<int64_t>> shapes;
  const nlohmann::json parsed = nlohmann::json::parse(summary);
  for (const auto& o : parsed["outputs"]) shapes[o["name"].get<std::string>()] = o["shape"].get<std::vector<int64_t>>();
  return shapes;
}

TEST_P(PruneOrt, PrunedModelIsValidAndRunsInOnnxRuntime) {
  const Case c = GetParam();
  auto model = loadModel(path());
  ASSERT_TRUE(model.isOk()) << model.status().message();
  auto pass = createPass({"prune-channels", {{"sparsity", "0.5"}, {"granularity", c.granularity}}});
  ASSERT_TRUE(pass.isOk());
  PassContext context;
  auto result = (*pass)->run(*model, context);
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_TRUE(result->changed) << result->summary;
  EXPECT_LT(result->stats["params_after"].get<int64_t>(), result->stats["params_before"].get<int64_t>());

  const std::string work = test::makeTempDir();
  const std::string pruned = work + "/pruned.onnx";
  ASSERT_TRUE(saveModel(*model, pruned, {}).isOk());
  CheckReport check = checkModelFile(pruned);
  EXPECT_EQ(check.result, CheckResult::kValid) << check.message;

  const std::string ort_run = "node " + quote(test::sourceDir() + "/tools/ort/ort_run.js");
  auto a = shell(ort_run + " " + quote(path()) + " --out " + quote(work + "/a") + " --random-seed 1" + confArgs(c.file));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = shell(ort_run + " " + quote(pruned) + " --out " + quote(work + "/b") + " --inputs-dir " + quote(work + "/a/inputs") +
                 " --no-random");
  ASSERT_EQ(b.exit_code, 0) << "ORT cannot run the pruned model: " << b.err;
  const auto before = outputShapes(a.out), after = outputShapes(b.out);
  EXPECT_EQ(before, after);
  // The shapes the pruned model declares agree with what ORT computed.
  for (const Value* out : model->graph->outputs()) {
    if (!out->type.has_shape) continue;
    ASSERT_TRUE(after.count(out->name())) << out->name() << " not in " << b.out;
    const auto& got = after.at(out->name());
    ASSERT_EQ(got.size(), out->type.dims.size()) << out->name();
    for (size_t i = 0; i < got.size(); ++i)
      if (out->type.dims[i].value) EXPECT_EQ(*out->type.dims[i].value, got[i]) << out->name() << " dim " << i;
  }
  fs::remove_all(work);
}

INSTANTIATE_TEST_SUITE_P(Models, PruneOrt,
                         ::testing::Values(Case{"cnn_bn.onnx", false, "channel"}, Case{"resnet_small.onnx", false, "channel"},
                                           Case{"mobilenet_small.onnx", false, "channel"}, Case{"mlp.onnx", false, "neuron"},
                                           Case{"tiny_transformer.onnx", false, "head"},
                                           Case{"tiny_transformer.onnx", false, "neuron"},
                                           Case{"ppocr_v4_det.onnx", true, "channel"},
                                           Case{"ppocr_mobile_v2_cls.onnx", true, "channel"},
                                           Case{"isnet_fp16.onnx", true, "channel"}, Case{"isnet_quint8.onnx", true, "channel"}),
                         [](const auto& info) {
                           std::string name = info.param.file;
                           name = name.substr(0, name.size() - 5) + "_" + info.param.granularity;
                           return name;
                         });

}  // namespace
}  // namespace nnc

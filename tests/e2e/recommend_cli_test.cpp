// `nncompress recommend`: the proposed recipe fits the model and the target (structured pruning +
// fine-tuning + static int8 for the MLP on AVX2, dynamic int8 for the transformer, fp16 on GPUs,
// nothing more for a quantized model), every step comes with its reason, and the written recipe
// runs as is with `pipeline --recipe`.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

using test::modelsDir;
using test::quote;
using test::shell;
using test::ShellResult;

ShellResult nnc(const std::string& args) { return shell(quote(NNC_BINARY) + " " + args); }

std::vector<std::string> passesOf(const nlohmann::json& j) {
  std::vector<std::string> passes;
  for (const auto& s : j["steps"]) {
    passes.push_back(s["pass"].get<std::string>());
    EXPECT_GT(s["reason"].get<std::string>().size(), 20u) << "every step says why";
  }
  return passes;
}

TEST(RecommendCli, MlpOnAvx2RecipeRunsAsIsInPipeline) {
  const std::string dir = test::makeTempDir(), recipe = dir + "/r.yaml";
  auto r = nnc("--json recommend " + quote(modelsDir() + "/mlp.onnx") + " --target cpu-avx2 -o " + quote(recipe));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(passesOf(j), (std::vector<std::string>{"canonicalize", "prune-channels{granularity=neuron,sparsity=0.3}", "finetune{epochs=2}",
                                                   "quantize"}));
  EXPECT_TRUE(j["needs_training_data"].get<bool>());
  EXPECT_TRUE(j["needs_calibration_data"].get<bool>());
  ASSERT_TRUE(fs::exists(recipe));
  const std::string calib_x = quote(modelsDir() + "/data/fashion_mnist_calib_500_x.npy");
  const std::string calib_y = quote(modelsDir() + "/data/fashion_mnist_calib_500_y.npy");
  auto p = nnc("--json pipeline " + quote(modelsDir() + "/mlp.onnx") + " -o " + quote(dir + "/out.onnx") + " --recipe " + quote(recipe) +
               " --data " + quote(modelsDir() + "/data/fashion_mnist_test_2000_x.npy") + " --labels " +
               quote(modelsDir() + "/data/fashion_mnist_test_2000_y.npy") + " --scale 1/255 --limit 500 --calib-data " + calib_x +
               " --train-data " + calib_x + " --train-labels " + calib_y + " --latency-runs 1");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  auto report = nlohmann::json::parse(p.out);
  EXPECT_EQ(report["pipeline"], "canonicalize,prune-channels{granularity=neuron,sparsity=0.3},finetune{epochs=2},quantize");
  EXPECT_LT(report["final_vs_original"]["size_ratio"].get<double>(), 0.25);
  fs::remove_all(dir);
}

TEST(RecommendCli, FollowsTheModelAndTheTarget) {
  auto transformer = nnc("--json recommend " + quote(modelsDir() + "/tiny_transformer.onnx") + " --target cpu-avx512");
  ASSERT_EQ(transformer.exit_code, 0) << transformer.err;
  EXPECT_EQ(passesOf(nlohmann::json::parse(transformer.out)), (std::vector<std::string>{"canonicalize", "quantize-dynamic"}));

  auto gpu = nnc("--json recommend " + quote(modelsDir() + "/resnet_small.onnx") + " --target gpu");
  ASSERT_EQ(gpu.exit_code, 0) << gpu.err;
  const auto gpu_passes = passesOf(nlohmann::json::parse(gpu.out));
  EXPECT_EQ(gpu_passes.back(), "convert-float{type=fp16}");

  auto vnni = nnc("--json recommend " + quote(modelsDir() + "/cnn_bn.onnx") + " --target cpu-avx512");
  ASSERT_EQ(vnni.exit_code, 0);
  EXPECT_EQ(passesOf(nlohmann::json::parse(vnni.out)).back(), "quantize{reduce_range=false}") << "VNNI: full-range weights";

  // A model that is already int8: no second quantization.
  const std::string dir = test::makeTempDir(), q = dir + "/q.onnx";
  ASSERT_EQ(nnc("-q quantize " + quote(modelsDir() + "/cnn_bn.onnx") + " -o " + quote(q) + " --calib-data " +
                quote(modelsDir() + "/data/fashion_mnist_calib_500_x.npy") + " --scale 1/255 --calib-samples 32")
                .exit_code,
            0);
  auto quantized = nnc("--json recommend " + quote(q) + " --target cpu-avx2");
  ASSERT_EQ(quantized.exit_code, 0);
  auto jq = nlohmann::json::parse(quantized.out);
  EXPECT_TRUE(jq["traits"]["quantized"].get<bool>());
  EXPECT_EQ(passesOf(jq), (std::vector<std::string>{"canonicalize"}));
  fs::remove_all(dir);

  auto bad = nnc("recommend " + quote(modelsDir() + "/mlp.onnx") + " --target tpu");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--target tpu"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace nnc

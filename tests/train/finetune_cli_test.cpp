// `nncompress finetune` as a user runs it: same seed -> byte-identical output, --json,
// pruned zeros kept, exit codes for an existing output, a bad option and an op without a backward.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/import.h"
#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

struct RunResult {
  int exit_code;
  std::string out, err;
};

RunResult run(const std::string& args, const std::string& dir) {
  const std::string cmd = std::string(NNC_BINARY) + " " + args + " > " + dir + "/out 2> " + dir + "/err";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::readFile(dir + "/out"), test::readFile(dir + "/err")};
}

std::string dataArgs() {
  const std::string data = test::sourceDir() + "/models/data/";
  return " --data " + data + "fashion_mnist_calib_500_x.npy --labels " + data +
         "fashion_mnist_calib_500_y.npy --scale 1/255 --limit 64 --batch-size 16 --threads 1";
}

TEST(FinetuneCliTest, SameSeedGivesByteIdenticalModelsAndJsonSummary) {
  const std::string dir = test::makeTempDir();
  const std::string model = test::sourceDir() + "/models/mlp.onnx";
  const std::string common = "finetune " + model + dataArgs() + " --epochs 2 --optimizer adamw --lr 0.001 --weight-decay 0.01"
                             " --schedule cosine --warmup-steps 2 --clip-grad-norm 5 --seed 3";
  RunResult a = run(common + " -o " + dir + "/a.onnx", dir);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.out.find("finetuned"), std::string::npos);
  EXPECT_NE(a.err.find("epoch 2/2: loss"), std::string::npos) << a.err;
  RunResult b = run(common + " -o " + dir + "/b.onnx --json", dir);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(test::readFile(dir + "/a.onnx"), test::readFile(dir + "/b.onnx"));
  EXPECT_NE(test::readFile(dir + "/a.onnx"), test::readFile(model));
  auto j = nlohmann::json::parse(b.out);
  EXPECT_EQ(j["epochs"].size(), 2u);
  EXPECT_EQ(j["steps"], 8);
  EXPECT_GT(j["parameters"].get<int64_t>(), 235000);
  // The output passes the ONNX checker and loads again.
  CheckReport check = checkModelFile(dir + "/a.onnx");
  EXPECT_EQ(check.result, CheckResult::kValid) << check.message;
  EXPECT_TRUE(loadModel(dir + "/a.onnx").isOk());
  fs::remove_all(dir);
}

TEST(FinetuneCliTest, ExistingOutputBadOptionAndOpWithoutBackward) {
  const std::string dir = test::makeTempDir();
  const std::string model = test::sourceDir() + "/models/mlp.onnx";
  test::writeFile(dir + "/exists.onnx", "keep");
  RunResult exists = run("finetune " + model + dataArgs() + " --epochs 1 -o " + dir + "/exists.onnx", dir);
  EXPECT_EQ(exists.exit_code, 6) << exists.err;
  EXPECT_EQ(test::readFile(dir + "/exists.onnx"), "keep");

  RunResult bad = run("finetune " + model + dataArgs() + " --epochs 1 --optimizer rmsprop -o " + dir + "/x.onnx", dir);
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--optimizer"), std::string::npos);

  // tiny_transformer uses ops without a backward yet: unsupported, nothing written.
  RunResult tf = run("finetune " + test::sourceDir() + "/models/tiny_transformer.onnx" + dataArgs() + " --epochs 1 -o " + dir + "/tf.onnx", dir);
  EXPECT_EQ(tf.exit_code, 4) << tf.err;
  EXPECT_NE(tf.err.find("no backward for op"), std::string::npos) << tf.err;
  EXPECT_FALSE(fs::exists(dir + "/tf.onnx"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nnc

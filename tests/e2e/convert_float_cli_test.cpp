// `nncompress convert --fp16/--bf16` as a user runs it: the output file is float16/bfloat16
// inside and valid, --json reports the pass statistics, flag errors exit 2, an unsupported
// model exits 4 without writing anything, the input is untouched.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sys/wait.h>

#include "nncompress/data/npy.h"
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

RunResult run(const std::string& args) {
  std::string dir = test::makeTempDir();
  std::string cmd = std::string(NNC_BINARY) + " " + args + " > " + dir + "/out 2> " + dir + "/err";
  int status = std::system(cmd.c_str());
  RunResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::readFile(dir + "/out"), test::readFile(dir + "/err")};
  fs::remove_all(dir);
  return r;
}

std::string writeModel(const std::string& dir, const char* text) {
  auto proto = test::parseText(text);
  std::string path = dir + "/in.onnx";
  test::writeFile(path, proto.SerializeAsString());
  return path;
}

const char* kModel = R"(
<ir_version: 7, opset_import: ["" : 13]>
g (float[N,4] x) => (float[N,4] y) <float[4,4] w = {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}> {
  m = MatMul(x, w)
  y = Relu(m)
}
)";

TEST(ConvertFloatCli, Fp16WritesAValidFloat16Model) {
  const std::string dir = test::makeTempDir();
  const std::string in = writeModel(dir, kModel);
  const std::string before = test::readFile(in);
  auto r = run("--json convert " + in + " -o " + dir + "/out.onnx --fp16");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["convert_float"]["type"], "float16");
  EXPECT_EQ(j["convert_float"]["nodes_converted"], 2);
  EXPECT_EQ(test::readFile(in), before) << "the input is never modified";
  auto model = loadModel(dir + "/out.onnx");
  ASSERT_TRUE(model.isOk()) << model.status().message();
  EXPECT_EQ(model->graph->findValue("w")->initializer()->dtype, DType::kFloat16);
  EXPECT_EQ(model->graph->inputs()[0]->type.elem_type, static_cast<int32_t>(DType::kFloat)) << "--keep-io-types is the default";
  EXPECT_EQ(checkModelFile(dir + "/out.onnx").result, CheckResult::kValid);

  auto r2 = run("convert " + in + " -o " + dir + "/out16.onnx --fp16 --no-keep-io-types --block Relu");
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  auto m2 = loadModel(dir + "/out16.onnx");
  ASSERT_TRUE(m2.isOk());
  EXPECT_EQ(m2->graph->inputs()[0]->type.elem_type, static_cast<int32_t>(DType::kFloat16));
  EXPECT_EQ(m2->graph->outputs()[0]->producer()->op_type, "Relu") << "blocked: computes float32 (its output stays float32)";
  EXPECT_EQ(m2->graph->outputs()[0]->type.elem_type, static_cast<int32_t>(DType::kFloat));
  fs::remove_all(dir);
}

TEST(ConvertFloatCli, Bf16AndErrors) {
  const std::string dir = test::makeTempDir();
  const std::string in = writeModel(dir, kModel);
  auto r = run("convert " + in + " -o " + dir + "/bf.onnx --bf16");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto m = loadModel(dir + "/bf.onnx");
  ASSERT_TRUE(m.isOk());
  EXPECT_EQ(m->graph->findValue("w")->initializer()->dtype, DType::kBFloat16);
  EXPECT_EQ(run("convert " + in + " -o " + dir + "/x.onnx --fp16 --bf16").exit_code, 2);
  EXPECT_EQ(run("convert " + in + " -o " + dir + "/x.onnx --block Relu").exit_code, 2);
  EXPECT_FALSE(fs::exists(dir + "/x.onnx"));
  const std::string old = writeModel(dir, R"(
<ir_version: 6, opset_import: ["" : 11]>
g (float[4] x) => (float[4] y) { y = Relu(x) }
)");
  auto refused = run("convert " + old + " -o " + dir + "/x.onnx --bf16");
  EXPECT_EQ(refused.exit_code, 4) << refused.err;
  EXPECT_NE(refused.err.find("opset 13"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir + "/x.onnx"));
  fs::remove_all(dir);
}

TEST(ConvertFloatCli, DataKeepsOverflowingNodesInFloat32) {
  const std::string dir = test::makeTempDir();
  const std::string in = writeModel(dir, R"(
<ir_version: 7, opset_import: ["" : 13]>
g (float[N,3] x) => (float[N,3] y) <float k1 = {1000.0}, float k2 = {100.0}, float k3 = {0.0001}> {
  a = Mul(x, k1)
  b = Mul(a, k2)
  y = Mul(b, k3)
}
)");
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {2, 3}, std::vector<float>{0.9f, -0.5f, 0.25f, -1.0f, 0.75f, 0.1f});
  ASSERT_TRUE(writeNpy(dir + "/x.npy", x, true).isOk());
  auto r = run("--json convert " + in + " -o " + dir + "/out.onnx --fp16 --data " + dir + "/x.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["convert_float"]["nodes_kept_for_activation_range"], 2) << r.out;
  EXPECT_EQ(j["convert_float"]["samples_observed"], 2) << r.out;
  EXPECT_EQ(run("convert " + in + " -o " + dir + "/bf.onnx --bf16 --data " + dir + "/x.npy").exit_code, 2);
  EXPECT_EQ(run("convert " + in + " -o " + dir + "/no.onnx --fp16 --data " + dir + "/missing.npy").exit_code, 5);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nnc

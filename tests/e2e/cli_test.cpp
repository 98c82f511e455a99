// The built CLI as a user runs it: exit codes, one-line errors, outputs, inputs untouched.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <sys/wait.h>

#include "nncompress/onnx/import.h"
#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

struct RunResult {
  int exit_code;
  std::string out;
  std::string err;
};

RunResult run(const std::string& args) {
  std::string dir = test::makeTempDir();
  std::string cmd = std::string(NNC_BINARY) + " " + args + " > " + dir + "/out 2> " + dir + "/err";
  int status = std::system(cmd.c_str());
  RunResult r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::readFile(dir + "/out"), test::readFile(dir + "/err")};
  fs::remove_all(dir);
  return r;
}

std::string smallModelPath(const std::string& dir) {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17], producer_name: "test">
g (float[N,4] x) => (float[N,4] y) <float[4] w = {1.0, 0.0, 3.0, 0.0}> { y = Add(x, w) }
)");
  std::string path = dir + "/small.onnx";
  test::writeFile(path, proto.SerializeAsString());
  return path;
}

int lineCount(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::makeTempDir(); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Cli, VersionAndHelp) {
  auto v = run("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("nncompress 0."), std::string::npos);
  auto h = run("--help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("inspect"), std::string::npos);
  EXPECT_EQ(run("").exit_code, 2);
  EXPECT_EQ(run("frobnicate").exit_code, 2);
  EXPECT_EQ(run("inspect --no-such-option x.onnx").exit_code, 2);
}

TEST_F(Cli, InspectTextAndJson) {
  std::string model = smallModelPath(dir_);
  auto text = run("inspect " + model);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("input     x float[N,4]"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("params    4 (float 4)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("50.0% zeros"), std::string::npos) << text.out;
  auto json = run("inspect --json " + model);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["schema"], "nncompress.inspect/1");
  EXPECT_EQ(j["params"], 4);
  EXPECT_EQ(j["inputs"][0]["shape"][0], "N");
  EXPECT_EQ(j["op_histogram"]["Add"], 1);
  EXPECT_EQ(j["layers"][0]["op"], "Add");
  EXPECT_DOUBLE_EQ(j["layers"][0]["zero_fraction"].get<double>(), 0.5);
  EXPECT_EQ(j["producer"], "test");
}

TEST_F(Cli, ConvertWritesAndRefusesToOverwrite) {
  std::string model = smallModelPath(dir_);
  std::string before = test::readFile(model);
  std::string out = dir_ + "/out.onnx";
  auto first = run("convert " + model + " -o " + out);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(lineCount(first.out), 1) << "one summary line";
  EXPECT_TRUE(loadModel(out).isOk());
  auto second = run("convert " + model + " -o " + out);
  EXPECT_EQ(second.exit_code, 6);
  EXPECT_NE(second.err.find("--force"), std::string::npos);
  auto forced = run("convert " + model + " -o " + out + " --force");
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(test::readFile(model), before) << "the input was modified";
}

TEST_F(Cli, ConvertExternalDataAndBack) {
  std::string model = smallModelPath(dir_);
  auto ext = run("convert " + model + " -o " + dir_ + "/ext.onnx --external-data 0");
  ASSERT_EQ(ext.exit_code, 0) << ext.err;
  EXPECT_TRUE(fs::exists(dir_ + "/ext.onnx.data"));
  auto back = run("convert " + dir_ + "/ext.onnx -o " + dir_ + "/back.onnx");
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_FALSE(fs::exists(dir_ + "/back.onnx.data"));
  auto direct = run("convert " + model + " -o " + dir_ + "/direct.onnx");
  EXPECT_EQ(test::readFile(dir_ + "/back.onnx"), test::readFile(dir_ + "/direct.onnx"));
  auto bad = run("convert " + model + " -o " + dir_ + "/x.onnx --external-data lots");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_FALSE(fs::exists(dir_ + "/x.onnx"));
}

TEST_F(Cli, BadInputsGetOneLineErrors) {
  struct Case {
    std::string name;
    std::string bytes;
    int exit_code;
  };
  std::vector<Case> cases = {{"empty.onnx", "", 3}, {"garbage.onnx", "\x12\x34garbage\xff\xfe", 3}};
  for (const auto& c : cases) {
    test::writeFile(dir_ + "/" + c.name, c.bytes);
    for (const std::string& cmd : {std::string("inspect "), "convert -o " + dir_ + "/o.onnx "}) {
      auto r = run(cmd + dir_ + "/" + c.name);
      EXPECT_EQ(r.exit_code, c.exit_code) << c.name << ": " << r.err;
      EXPECT_EQ(lineCount(r.err), 1) << r.err;
      EXPECT_NE(r.err.find(c.name), std::string::npos) << r.err;
      EXPECT_FALSE(fs::exists(dir_ + "/o.onnx"));
    }
  }
  auto missing = run("inspect " + dir_ + "/missing.onnx");
  EXPECT_EQ(missing.exit_code, 5);
  EXPECT_EQ(lineCount(missing.err), 1);
  auto folder = run("inspect " + dir_);
  EXPECT_EQ(folder.exit_code, 5);
}

}  // namespace
}  // namespace nnc

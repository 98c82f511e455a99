// `nncompress batch` on a zoo of three bundled models plus a broken file (text renamed .onnx):
// the broken model fails with a one-line reason without stopping the others (exit 8), each ok
// row's numbers equal the files on disk and what `nncompress eval` says about the outputs,
// --jobs 2 gives the same summary, and three shards merged give the unsharded summary (timing
// fields excluded, see docs/batch.md; all runs use --threads 1 because float sums, hence SQNR
// digits, depend on the thread count). A manifest model without data is evaluated on seeded
// random inputs (agreement only).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

using test::modelsDir;
using test::quote;
using test::shell;
using test::ShellResult;

ShellResult nnc(const std::string& args) { return shell(quote(NNC_BINARY) + " " + args); }

const std::vector<std::string> kModels = {"cnn_bn", "mlp", "tiny_transformer"};

std::string evalData() {
  return " --data " + quote(modelsDir() + "/data/fashion_mnist_test_2000_x.npy") + " --labels " +
         quote(modelsDir() + "/data/fashion_mnist_test_2000_y.npy") + " --scale 1/255 --limit 200 --batch-size 100";
}

nlohmann::json readSummary(const std::string& dir) { return nlohmann::json::parse(test::readFile(dir + "/summary.json")); }

// The summary without its timing fields (latency and wall time differ between any two runs).
nlohmann::json withoutTimings(nlohmann::json summary) {
  for (auto& row : summary["models"]) {
    row.erase("latency_ms_before");
    row.erase("latency_ms_after");
    row.erase("seconds");
  }
  return summary;
}

class BatchCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = test::makeTempDir();
    zoo_ = root_ + "/zoo";
    fs::create_directories(zoo_);
    for (const std::string& m : kModels) fs::copy_file(modelsDir() + "/" + m + ".onnx", zoo_ + "/" + m + ".onnx");
    std::ofstream(zoo_ + "/broken.onnx") << "this is a text file, not a model\n";
    unsharded_ = runBatch(root_ + "/all", "");
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static ShellResult runBatch(const std::string& out, const std::string& extra) {
    return nnc("batch " + quote(zoo_) + " -o " + quote(out) + " --passes canonicalize,quantize" + evalData() + " --calib-data " +
               quote(modelsDir() + "/data/fashion_mnist_calib_500_x.npy") + " --latency-runs 2 --threads 1" + extra);
  }

  static std::string root_, zoo_;
  static ShellResult unsharded_;
};
std::string BatchCli::root_, BatchCli::zoo_;
ShellResult BatchCli::unsharded_;

TEST_F(BatchCli, BrokenModelFailsAloneWithOneLineReason) {
  ASSERT_EQ(unsharded_.exit_code, 8) << unsharded_.err;  // documented: some model failed
  const auto summary = readSummary(root_ + "/all");
  EXPECT_EQ(summary["pipeline"], "canonicalize,quantize");
  EXPECT_EQ(summary["ok"], 3);
  EXPECT_EQ(summary["failed"], 1);
  const auto& rows = summary["models"];
  ASSERT_EQ(rows.size(), 4u);
  // Sorted by name.
  EXPECT_EQ(rows[0]["name"], "broken");
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(rows[i + 1]["name"], kModels[i]);
  EXPECT_EQ(rows[0]["status"], "failed");
  const std::string error = rows[0]["error"];
  EXPECT_NE(error.find("broken.onnx"), std::string::npos) << error;
  EXPECT_NE(error.find("not an ONNX model"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
  EXPECT_TRUE(rows[0]["bytes_before"].is_null());
  EXPECT_FALSE(fs::exists(root_ + "/all/broken/broken.onnx"));
}

TEST_F(BatchCli, OkRowsMatchFilesAndEval) {
  const auto rows = readSummary(root_ + "/all")["models"];
  for (size_t i = 0; i < 3; ++i) {
    const auto& row = rows[i + 1];
    const std::string name = kModels[i];
    SCOPED_TRACE(name);
    EXPECT_EQ(row["status"], "ok");
    EXPECT_EQ(row["error"], "");
    EXPECT_EQ(row["eval_data"], "labeled");
    const std::string output = root_ + "/all/" + name + "/" + name + ".onnx";
    ASSERT_TRUE(fs::exists(output));
    EXPECT_EQ(row["bytes_before"].get<uint64_t>(), fs::file_size(zoo_ + "/" + name + ".onnx"));
    EXPECT_EQ(row["bytes_after"].get<uint64_t>(), fs::file_size(output));
    EXPECT_LT(row["bytes_after"].get<uint64_t>(), row["bytes_before"].get<uint64_t>() / 2);  // int8 weights
    EXPECT_EQ(row["report"], name + "/" + name + ".report.html");
    EXPECT_TRUE(fs::exists(root_ + "/all/" + row["report"].get<std::string>()));
    // Accuracy before and after, as `nncompress eval` measures the input and the output files.
    for (const auto& [file, key] : {std::pair{zoo_ + "/" + name + ".onnx", "accuracy_before"}, std::pair{output, "accuracy_after"}}) {
      auto eval = nnc("eval " + quote(file) + evalData() + " --json");
      ASSERT_EQ(eval.exit_code, 0) << eval.err;
      EXPECT_DOUBLE_EQ(row[key].get<double>(), nlohmann::json::parse(eval.out)["top1"].get<double>()) << key;
    }
    EXPECT_GT(row["agreement_after"].get<double>(), 0.9);
    EXPECT_GT(row["latency_ms_before"].get<double>(), 0);
  }
}

TEST_F(BatchCli, CsvAndIndexListEveryModel) {
  const std::string csv = test::readFile(root_ + "/all/summary.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "name,model,status,error,eval_data,report,bytes_before,bytes_after,params_before,params_after,accuracy_before,"
            "accuracy_after,agreement_after,sqnr_db_after,latency_ms_before,latency_ms_after,seconds");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  const auto rows = readSummary(root_ + "/all")["models"];
  const std::string mlp_line = csv.substr(csv.find("\nmlp,") + 1);
  EXPECT_EQ(mlp_line.substr(0, mlp_line.find('\n')).rfind("mlp," + zoo_ + "/mlp.onnx,ok,,labeled,mlp/mlp.report.html," +
                                                              std::to_string(rows[2]["bytes_before"].get<uint64_t>()) + ",",
                                                          0),
            0u);
  const std::string html = test::readFile(root_ + "/all/index.html");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  for (const std::string& m : kModels) EXPECT_NE(html.find("href=\"" + m + "/" + m + ".report.html\""), std::string::npos) << m;
  EXPECT_NE(html.find("failed: "), std::string::npos);
}

TEST_F(BatchCli, ParallelJobsGiveTheSameSummary) {
  auto r = runBatch(root_ + "/jobs2", " --jobs 2");
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_EQ(withoutTimings(readSummary(root_ + "/jobs2")), withoutTimings(readSummary(root_ + "/all")));
}

// The same pipeline from a recipe file gives the same summary; a recipe with quality gates is
// refused (batch does not apply them).
TEST_F(BatchCli, RecipeGivesTheSameSummaryAsPasses) {
  const std::string recipe = root_ + "/r.json", gated = root_ + "/gated.yaml";
  test::writeFile(recipe, R"({"passes": ["canonicalize", "quantize"]})");
  test::writeFile(gated, "passes: [canonicalize]\nfail_if: [size_ratio > 0.5]\n");
  auto r = nnc("batch " + quote(zoo_) + " -o " + quote(root_ + "/recipe") + " --recipe " + quote(recipe) + evalData() + " --calib-data " +
               quote(modelsDir() + "/data/fashion_mnist_calib_500_x.npy") + " --latency-runs 2 --threads 1");
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_EQ(withoutTimings(readSummary(root_ + "/recipe")), withoutTimings(readSummary(root_ + "/all")));
  auto g = nnc("batch " + quote(zoo_) + " -o " + quote(root_ + "/gated") + " --recipe " + quote(gated) + evalData());
  EXPECT_EQ(g.exit_code, 2);
  EXPECT_NE(g.err.find("fail_if"), std::string::npos) << g.err;
}

TEST_F(BatchCli, ThreeShardsMergedEqualTheUnshardedRun) {
  std::string shards;
  for (int i = 0; i < 3; ++i) {
    const std::string out = root_ + "/shard" + std::to_string(i);
    auto r = runBatch(out, " --shard " + std::to_string(i) + "/3");
    // Name order: broken, cnn_bn, mlp, tiny_transformer -> shard 0 has broken and tiny_transformer.
    EXPECT_EQ(r.exit_code, i == 0 ? 8 : 0) << r.err;
    EXPECT_EQ(readSummary(out)["models"].size(), i == 0 ? 2u : 1u);
    shards.append(" ").append(quote(out));
  }
  EXPECT_EQ(readSummary(root_ + "/shard1")["models"][0]["name"], "cnn_bn");
  auto merged = nnc("batch --merge" + shards + " -o " + quote(root_ + "/merged"));
  EXPECT_EQ(merged.exit_code, 8) << merged.err;
  EXPECT_EQ(withoutTimings(readSummary(root_ + "/merged")), withoutTimings(readSummary(root_ + "/all")));
  for (const std::string& m : kModels) EXPECT_TRUE(fs::exists(root_ + "/merged/" + m + "/" + m + ".report.html")) << m;
  // Merging a model twice is an error.
  auto twice = nnc("batch --merge" + shards + " " + quote(root_ + "/shard1") + " -o " + quote(root_ + "/merged2"));
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_NE(twice.err.find("'cnn_bn' is in two shards"), std::string::npos) << twice.err;
}

TEST_F(BatchCli, ManifestModelWithoutDataUsesRandomInputs) {
  const std::string manifest = root_ + "/zoo.json";
  std::ofstream(manifest) << R"({"models": [
    {"path": "zoo/mlp.onnx", "data": ")" << modelsDir() << R"(/data/fashion_mnist_test_2000_x.npy", "scale": "1/255"},
    {"name": "cnn_random", "path": "zoo/cnn_bn.onnx"}]})";
  auto r = nnc("batch " + quote(manifest) + " -o " + quote(root_ + "/manifest") + " --passes canonicalize --limit 100 --latency-runs 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = readSummary(root_ + "/manifest")["models"];
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["name"], "cnn_random");
  EXPECT_EQ(rows[0]["eval_data"], "random");
  EXPECT_TRUE(rows[0]["accuracy_before"].is_null());
  EXPECT_EQ(rows[0]["agreement_after"].get<double>(), 1.0);  // canonicalize keeps the predictions
  EXPECT_EQ(rows[1]["name"], "mlp");
  EXPECT_EQ(rows[1]["eval_data"], "unlabeled");  // data without labels: agreement only
  EXPECT_TRUE(rows[1]["accuracy_after"].is_null());
}

TEST_F(BatchCli, UsageErrors) {
  auto exists = runBatch(root_ + "/all", "");
  EXPECT_EQ(exists.exit_code, 6) << exists.err;  // summary.json exists, no --force
  auto shard = runBatch(root_ + "/bad", " --shard 3/3");
  EXPECT_EQ(shard.exit_code, 2) << shard.err;
  EXPECT_NE(shard.err.find("--shard: '3/3' needs 0 <= I < N"), std::string::npos) << shard.err;
  auto missing = nnc("batch " + quote(root_ + "/nothing") + " -o " + quote(root_ + "/x") + " --passes canonicalize");
  EXPECT_EQ(missing.exit_code, 5) << missing.err;
}

}  // namespace
}  // namespace nnc

// The zoo, shard and summary pieces of `nncompress batch` (include/nncompress/pipeline/batch.h):
// shard parsing and selection against hand-computed picks, manifest paths and errors, CSV
// quoting, and merge checks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "nncompress/pipeline/batch.h"
#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

ZooEntry entry(const std::string& name, const std::string& path) {
  ZooEntry e;
  e.name = name;
  e.path = path;
  return e;
}

std::vector<ZooEntry> named(const std::vector<std::string>& names) {
  std::vector<ZooEntry> entries;
  for (const std::string& n : names) entries.push_back(entry(n, n + ".onnx"));
  return entries;
}

std::vector<std::string> names(const std::vector<ZooEntry>& entries) {
  std::vector<std::string> out;
  for (const ZooEntry& e : entries) out.push_back(e.name);
  return out;
}

TEST(BatchShard, ParsesZeroBasedIndexAndRejectsOthers) {
  auto s = parseShard("2/5");
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(s->index, 2);
  EXPECT_EQ(s->count, 5);
  for (const char* bad : {"5/5", "-1/3", "1/0", "1", "a/3", "1/3x", "/3"}) EXPECT_FALSE(parseShard(bad).isOk()) << bad;
}

TEST(BatchShard, PicksEveryNthModelOfTheSortedZoo) {
  const auto zoo = named({"a", "b", "c", "d", "e", "f", "g"});
  EXPECT_EQ(names(selectShard(zoo, {0, 3})), (std::vector<std::string>{"a", "d", "g"}));
  EXPECT_EQ(names(selectShard(zoo, {1, 3})), (std::vector<std::string>{"b", "e"}));
  EXPECT_EQ(names(selectShard(zoo, {2, 3})), (std::vector<std::string>{"c", "f"}));
  EXPECT_EQ(names(selectShard(zoo, {0, 1})).size(), 7u);
}

class BatchZoo : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::makeTempDir(); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  std::string dir_;
};

TEST_F(BatchZoo, ManifestResolvesPathsAndSortsByName) {
  const std::string manifest = write("zoo.json", R"({"models": [
    {"path": "m/z.onnx", "data": ["x=d/x.npy", "/abs/y.npy"], "labels": "d/l.npy", "scale": 0.5, "dims": {"batch": 2}},
    {"name": "alpha", "path": "/abs/model.onnx", "calib_data": "c.npy", "shapes": {"in": [4, 3]}}]})");
  auto zoo = readZoo(manifest);
  ASSERT_TRUE(zoo.isOk()) << zoo.status().message();
  ASSERT_EQ(zoo->size(), 2u);
  const ZooEntry& alpha = (*zoo)[0];
  EXPECT_EQ(alpha.name, "alpha");
  EXPECT_EQ(alpha.path, "/abs/model.onnx");
  EXPECT_EQ(alpha.calib_data, std::vector<std::string>{dir_ + "/c.npy"});
  EXPECT_EQ(alpha.shapes.at("in"), (std::vector<int64_t>{4, 3}));
  const ZooEntry& z = (*zoo)[1];
  EXPECT_EQ(z.name, "z");
  EXPECT_EQ(z.path, dir_ + "/m/z.onnx");
  EXPECT_EQ(z.data, (std::vector<std::string>{"x=" + dir_ + "/d/x.npy", "/abs/y.npy"}));
  EXPECT_EQ(z.labels, dir_ + "/d/l.npy");
  EXPECT_EQ(z.scale, "0.5");
  EXPECT_EQ(z.dims.at("batch"), 2);
}

TEST_F(BatchZoo, ManifestErrorsNameTheProblem) {
  auto unknown = readZoo(write("a.json", R"({"models": [{"path": "m.onnx", "lables": "y.npy"}]})"));
  ASSERT_FALSE(unknown.isOk());
  EXPECT_NE(unknown.status().message().find("unknown field 'lables'"), std::string::npos) << unknown.status().message();
  auto twice = readZoo(write("b.json", R"({"models": [{"path": "a/m.onnx"}, {"path": "b/m.onnx"}]})"));
  ASSERT_FALSE(twice.isOk());
  EXPECT_NE(twice.status().message().find("two models are named 'm'"), std::string::npos);
  EXPECT_FALSE(readZoo(write("c.json", R"({"models": [{"data": "x.npy"}]})")).isOk());  // no path
  EXPECT_FALSE(readZoo(write("d.json", "not json")).isOk());
  EXPECT_EQ(readZoo(dir_ + "/missing").status().code(), ErrorCode::kIo);
}

TEST_F(BatchZoo, FolderListsOnnxFilesByStem) {
  fs::create_directories(dir_ + "/zoo");
  std::ofstream(dir_ + "/zoo/b.onnx") << "x";
  std::ofstream(dir_ + "/zoo/a.onnx") << "x";
  std::ofstream(dir_ + "/zoo/notes.txt") << "x";
  auto zoo = readZoo(dir_ + "/zoo");
  ASSERT_TRUE(zoo.isOk());
  EXPECT_EQ(names(*zoo), (std::vector<std::string>{"a", "b"}));
}

TEST(BatchSummary, CsvQuotesFieldsWithCommasAndQuotes) {
  BatchSummary summary;
  summary.pipeline = "canonicalize";
  summary.rows.push_back(failedRow(entry("m", "m.onnx"), "bad \"x\", y\nsecond line"));
  EXPECT_EQ(summary.rows[0].error, "bad \"x\", y");  // first line only
  const std::string csv = summaryToCsv(summary);
  const std::string row = csv.substr(csv.find('\n') + 1);
  EXPECT_EQ(row, "m,m.onnx,failed,\"bad \"\"x\"\", y\",,,,,,,,,,,,,0.0\n");
}

TEST_F(BatchZoo, MergeRejectsDifferentPipelines) {
  for (const auto& [name, pipeline] : {std::pair{"s0", "canonicalize"}, std::pair{"s1", "quantize"}}) {
    BatchSummary s;
    s.pipeline = pipeline;
    s.rows.push_back(failedRow(entry(name, "x.onnx"), "e"));
    fs::create_directories(dir_ + "/" + name);
    ASSERT_TRUE(writeSummary(s, dir_ + "/" + name).isOk());
  }
  auto merged = mergeShards({dir_ + "/s0", dir_ + "/s1"}, dir_ + "/out", false);
  ASSERT_FALSE(merged.isOk());
  EXPECT_NE(merged.status().message().find("ran 'quantize', the first shard ran 'canonicalize'"), std::string::npos);
}

}  // namespace
}  // namespace nnc

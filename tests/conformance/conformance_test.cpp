// ONNX backend node tests (Debian's libonnx-testdata) run through nncompress's runtime.
// tests/conformance/manifest/*.txt (one file per op family) is the allowlist: every listed case
// must pass. At the end the
// runner prints, per op, how many of its cases are listed, and lists cases whose ops all have
// kernels but that are not listed yet (the next ones to add or to fix).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "nncompress/analysis/metrics.h"
#include "nncompress/ir/half.h"
#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "onnx/proto_util.h"
#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

struct ManifestEntry {
  double rtol = 1e-3;
  double atol = 1e-7;
};

std::string nodeRoot() { return test::onnxTestDataRoot() + "/node"; }

std::map<std::string, ManifestEntry> readManifest() {
  std::map<std::string, ManifestEntry> entries;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(test::sourceDir() + "/tests/conformance/manifest"))
    if (e.path().extension() == ".txt") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  std::string text;
  for (const auto& f : files) text += test::readFile(f) + "\n";
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string name, option;
    if (!(words >> name)) continue;
    ManifestEntry entry;
    while (words >> option) {
      if (option.rfind("rtol=", 0) == 0) entry.rtol = std::stod(option.substr(5));
      if (option.rfind("atol=", 0) == 0) entry.atol = std::stod(option.substr(5));
    }
    entries[name] = entry;
  }
  return entries;
}

const std::map<std::string, ManifestEntry>& manifest() {
  static const auto entries = readManifest();
  return entries;
}

std::vector<std::string> allCases() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(nodeRoot()))
    if (fs::exists(entry.path() / "model.onnx")) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

Expected<Tensor> readTensorFile(const std::string& path) {
  onnx::TensorProto proto;
  std::ifstream in(path, std::ios::binary);
  if (!in || !proto.ParseFromIstream(&in)) return invalidModel("cannot parse " + path);
  onnx_io::ExternalDataResolver external("");
  return onnx_io::tensorFromProto(proto, external);
}

// Compares like ONNX's backend runner: |actual - expected| <= atol + rtol * |expected|, NaN == NaN.
::testing::AssertionResult closeEnough(const Tensor& actual, const Tensor& expected, const ManifestEntry& tol) {
  if (actual.dtype != expected.dtype)
    return ::testing::AssertionFailure() << "dtype " << dtypeName(actual.dtype) << ", expected " << dtypeName(expected.dtype);
  if (actual.shape != expected.shape)
    return ::testing::AssertionFailure() << "shape " << test::shapeText(actual.shape) << ", expected " << test::shapeText(expected.shape);
  if (actual.dtype == DType::kString)
    return actual.strings == expected.strings ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << "strings differ";
  const bool exact = !isFloatingPoint(actual.dtype);
  const int64_t n = actual.elementCount();
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < n; ++i) {
    double a = elementAsDouble(actual, i), e = elementAsDouble(expected, i);
    bool ok = exact ? a == e : (std::isnan(a) && std::isnan(e)) || a == e || std::fabs(a - e) <= tol.atol + tol.rtol * std::fabs(e);
    if (!ok && bad++ == 0) first = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << n << " elements differ; first at " << first << ": "
                                       << elementAsDouble(actual, first) << " vs expected " << elementAsDouble(expected, first);
}

// Runs one case; returns an empty string on success, else why it failed.
std::string runCase(const std::string& name, const ManifestEntry& tol) {
  const std::string dir = nodeRoot() + "/" + name;
  auto model = loadModel(dir + "/model.onnx");
  if (!model) return "load: " + model.status().message();
  auto session = Session::create(*model, {1, nullptr});
  if (!session) return "session: " + session.status().message();
  std::vector<std::string> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path().string());
  std::sort(sets.begin(), sets.end());
  for (const std::string& set : sets) {
    NamedTensors inputs;
    auto feed = (*session)->inputs();
    for (size_t i = 0;; ++i) {
      std::string path = set + "/input_" + std::to_string(i) + ".pb";
      if (!fs::exists(path)) break;
      auto t = readTensorFile(path);
      if (!t) return "input " + std::to_string(i) + ": " + t.status().message();
      if (i >= model->graph->inputs().size()) return "more input files than graph inputs";
      Tensor tensor = std::move(t).value();
      // ONNX 1.12 wrote bfloat16 test tensors with data_type uint16: same bits, declared type wins.
      const Value* declared = model->graph->inputs()[i];
      if (tensor.dtype == DType::kUInt16 && declared->type.elem_type == static_cast<int32_t>(DType::kBFloat16)) tensor.dtype = DType::kBFloat16;
      inputs.emplace_back(declared->name(), std::move(tensor));
    }
    auto outputs = (*session)->run(inputs);
    if (!outputs) return "run: " + outputs.status().message();
    for (size_t i = 0; i < outputs->size(); ++i) {
      std::string path = set + "/output_" + std::to_string(i) + ".pb";
      auto expected = readTensorFile(path);
      if (!expected) return "output " + std::to_string(i) + ": " + expected.status().message();
      if (expected->dtype == DType::kUInt16 && (*outputs)[i].dtype == DType::kBFloat16) expected->dtype = DType::kBFloat16;
      auto same = closeEnough((*outputs)[i], *expected, tol);
      if (!same) return "output " + std::to_string(i) + " ('" + model->graph->outputs()[i]->name() + "'): " + same.message();
    }
  }
  return "";
}

class Conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(Conformance, MatchesReference) {
  const std::string& name = GetParam();
  ASSERT_TRUE(fs::exists(nodeRoot() + "/" + name + "/model.onnx")) << name << " is not a node test";
  std::string failure = runCase(name, manifest().at(name));
  EXPECT_TRUE(failure.empty()) << name << ": " << failure;
}

std::vector<std::string> listedCases() {
  std::vector<std::string> names;
  for (const auto& [name, entry] : manifest()) names.push_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Node, Conformance, ::testing::ValuesIn(listedCases()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// The op a node test is about: the single node's op type ("(multi)" for composite tests).
std::set<std::string> opsOf(const Model& model) {
  std::set<std::string> ops;
  forEachNode(*model.graph, [&](Node& n) { ops.insert((n.domain.empty() ? "" : n.domain + ".") + n.op_type); });
  return ops;
}

// Prints the coverage table: per op, listed cases / all cases; and the unlisted candidates.
class CoverageReport : public ::testing::Environment {
 public:
  void TearDown() override {
    std::map<std::string, std::pair<int, int>> per_op;  // op -> (listed, total)
    std::vector<std::string> candidates;
    int listed = 0, total = 0;
    for (const std::string& name : allCases()) {
      if (name.find("_expanded") != std::string::npos) continue;
      auto model = loadModel(nodeRoot() + "/" + name + "/model.onnx");
      if (!model) continue;
      auto ops = opsOf(*model);
      std::string op = ops.size() == 1 ? *ops.begin() : "(multi-op)";
      bool in = manifest().count(name) > 0;
      per_op[op].first += in;
      per_op[op].second += 1;
      listed += in;
      ++total;
      if (!in && Session::create(*model).isOk()) candidates.push_back(name);
    }
    std::printf("\nconformance: %d of %d node test cases (without _expanded) are in the manifest\n", listed, total);
    for (const auto& [op, counts] : per_op)
      if (counts.first > 0) std::printf("  %-28s %3d / %3d\n", op.c_str(), counts.first, counts.second);
    if (!candidates.empty()) {
      std::printf("cases whose ops all have kernels but are not in the manifest (%zu):\n", candidates.size());
      for (const auto& c : candidates) std::printf("  %s\n", c.c_str());
    }
  }
};

const auto* const kReport = ::testing::AddGlobalTestEnvironment(new CoverageReport);

}  // namespace
}  // namespace nnc

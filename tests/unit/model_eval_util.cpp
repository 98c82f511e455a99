// See model_eval_util.h.
#include "model_eval_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "nncompress/analysis/metrics.h"
#include "nncompress/data/dataset.h"
#include "nncompress/data/npy.h"
#include "nncompress/data/random_inputs.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc::test {
namespace fs = std::filesystem;
namespace {

std::string testX() { return bundledModelsDir() + "/data/fashion_mnist_test_2000_x.npy"; }
std::string testY() { return bundledModelsDir() + "/data/fashion_mnist_test_2000_y.npy"; }

std::vector<float> asFloats(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.elementCount()));
  for (int64_t i = 0; i < t.elementCount(); ++i) v[static_cast<size_t>(i)] = static_cast<float>(elementAsDouble(t, i));
  return v;
}

}  // namespace

std::string bundledModelsDir() {
  const char* env = std::getenv("NNC_MODELS_DIR");
  return env && *env ? env : sourceDir() + "/models";
}

Model loadBundled(const std::string& name) {
  auto model = loadModel(bundledModelsDir() + "/" + name + ".onnx");
  EXPECT_TRUE(model.isOk()) << model.status().message();
  return std::move(model).value();
}

Model copyModel(const Model& model) {
  auto bytes = serializeModel(model);
  EXPECT_TRUE(bytes.isOk());
  auto copy = parseModel(bytes->data(), bytes->size());
  EXPECT_TRUE(copy.isOk()) << copy.status().message();
  return std::move(copy).value();
}

PassResult runPassText(Model& model, const std::string& text) {
  auto specs = parsePipeline(text);
  EXPECT_TRUE(specs.isOk()) << specs.status().message();
  if (!specs) return {};
  auto pass = createPass(specs->at(0));
  EXPECT_TRUE(pass.isOk()) << pass.status().message();
  if (!pass) return {};
  PassContext context;
  auto result = (*pass)->run(model, context);
  EXPECT_TRUE(result.isOk()) << result.status().message();
  return result.isOk() ? *result : PassResult{};
}

int64_t top1Correct(const Model& model) {
  auto session = Session::create(model);
  EXPECT_TRUE(session.isOk()) << session.status().message();
  auto x = readNpy(testX());
  auto y = readNpy(testY());
  EXPECT_TRUE(x.isOk() && y.isOk());
  if (!session || !x || !y) return -1;
  std::vector<int64_t> labels(static_cast<size_t>(y->elementCount()));
  for (int64_t i = 0; i < y->elementCount(); ++i) labels[static_cast<size_t>(i)] = static_cast<int64_t>(elementAsDouble(*y, i));
  Dataset data;
  data.addInput((*session)->inputs().at(0)->name(), arraySource(*x, "test x"));
  Preprocess pre;
  pre.scale = 1.0 / 255.0;
  data.setPreprocess(pre);
  AccuracyCounter counter;
  for (int64_t begin = 0; begin < data.size(); begin += 100) {
    auto batch = data.batch(**session, begin, std::min<int64_t>(100, data.size() - begin));
    EXPECT_TRUE(batch.isOk()) << batch.status().message();
    if (!batch) return -1;
    auto out = (*session)->run(*batch);
    EXPECT_TRUE(out.isOk()) << out.status().message();
    if (!out) return -1;
    EXPECT_TRUE(counter.add(out->at(0), labels, begin).isOk());
  }
  return counter.top1;
}

std::string ortMissing() {
  if (shell("command -v node").exit_code != 0) return "node not found";
  if (!fs::exists(sourceDir() + "/tools/ort/node_modules/onnxruntime-node/package.json"))
    return "onnxruntime-node not installed (run tools/ort/install.sh)";
  if (!fs::exists(testX())) return "no " + testX();
  return "";
}

int64_t ortTop1Correct(const std::string& model_path, const std::string& opt_level) {
  auto r = shell("node " + quote(sourceDir() + "/tools/ort/ort_eval.js") + " " + quote(model_path) + " --data " + quote(testX()) +
                 " --labels " + quote(testY()) + " --scale 1/255 --batch-size 100 --opt-level " + opt_level);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return -1;
  return nlohmann::json::parse(r.out)["top1_correct"].get<int64_t>();
}

std::vector<std::vector<float>> ortOutputs(const std::string& model_path, const std::vector<std::pair<std::string, Tensor>>& inputs,
                                           const std::string& opt_level) {
  const std::string dir = makeTempDir();
  std::string args;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string file = dir + "/in" + std::to_string(i) + ".npy";
    EXPECT_TRUE(writeNpy(file, inputs[i].second, true).isOk());
    args += " --input " + quote(inputs[i].first + "=" + file);
  }
  auto r = shell("node " + quote(sourceDir() + "/tools/ort/ort_run.js") + " " + quote(model_path) + " --out " + quote(dir + "/out") +
                 " --no-random --opt-level " + opt_level + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::vector<float>> outputs;
  if (r.exit_code != 0) return outputs;
  const nlohmann::json summary = nlohmann::json::parse(r.out);
  for (const auto& o : summary["outputs"]) {
    auto t = readNpy(dir + "/out/" + o["file"].get<std::string>());
    EXPECT_TRUE(t.isOk()) << t.status().message();
    if (t) outputs.push_back(asFloats(*t));
  }
  fs::remove_all(dir);
  return outputs;
}

std::vector<std::vector<float>> runModel(const Model& model, const std::vector<std::pair<std::string, Tensor>>& inputs) {
  std::vector<std::vector<float>> outputs;
  auto session = Session::create(model);
  EXPECT_TRUE(session.isOk()) << session.status().message();
  if (!session) return outputs;
  auto out = (*session)->run(inputs);
  EXPECT_TRUE(out.isOk()) << out.status().message();
  if (!out) return outputs;
  for (const Tensor& t : *out) outputs.push_back(asFloats(t));
  return outputs;
}

std::vector<std::pair<std::string, Tensor>> seededInputs(const Model& model, int64_t batch, uint64_t seed) {
  auto session = Session::create(model);
  EXPECT_TRUE(session.isOk()) << session.status().message();
  if (!session) return {};
  RandomInputOptions options;
  options.batch = batch;
  options.seed = seed;
  auto inputs = randomInputs(**session, options);
  EXPECT_TRUE(inputs.isOk()) << inputs.status().message();
  return inputs.isOk() ? *inputs : NamedTensors{};
}

std::string saveTemp(const Model& model, const std::string& file_name) {
  const std::string path = makeTempDir() + "/" + file_name;
  SaveOptions options;
  auto saved = saveModel(model, path, options);
  EXPECT_TRUE(saved.isOk()) << saved.status().message();
  return path;
}

}  // namespace nnc::test

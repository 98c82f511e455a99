// convert-float (float32 -> float16 / bfloat16): structure (which nodes compute in 16 bits,
// where Casts go, value types), the ONNX checker, no NaN/Inf where float32 has none, accuracy
// of the bundled classifiers in nncompress and in ONNX Runtime, file size, determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "model_eval_util.h"
#include "nncompress/data/dataset.h"
#include "nncompress/ir/half.h"
#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "test_util.h"

namespace nnc {
namespace {

using test::importText;

using test::countOps;

Node* producerOf(const Model& model, const std::string& value) { return model.graph->findValue(value)->producer(); }

void expectValid(const Model& model) {
  CheckReport report = checkModel(model);
  EXPECT_EQ(report.result, CheckResult::kValid) << report.message;
}

// Skips (or fails with NNC_REQUIRE_ORT=1) when ONNX Runtime is not available.
#define SKIP_WITHOUT_ORT()                                                                       \
  do {                                                                                           \
    const std::string why = test::ortMissing();                                                  \
    if (!why.empty()) {                                                                          \
      const char* require = std::getenv("NNC_REQUIRE_ORT");                                      \
      if (require && std::string(require) == "1") FAIL() << "NNC_REQUIRE_ORT=1 but " << why;     \
      GTEST_SKIP() << why;                                                                       \
    }                                                                                            \
  } while (0)

const char* kSmallModel = R"(
<ir_version: 7, opset_import: ["" : 13]>
g (float[2,4] x) => (float[2,3] y, float[2,2] top) <float[4,3] w = {0.5, -1.0, 0.25, 2.0, 1.5, -0.5, 0.125, 0.75, -2.0, 1.0, 0.0, 3.0}, float[3] b = {0.1, 0.2, -0.3}, int64[1] k = {2}> {
  m = MatMul(x, w)
  a = Add(m, b)
  y = Relu(a)
  top, idx = TopK(y, k)
}
)";

TEST(ConvertFloat, ComputesInFloat16WithCastsAtTheBoundaries) {
  Model model = importText(kSmallModel);
  Model original = test::copyModel(model);
  PassResult result = test::runPassText(model, "convert-float{type=fp16}");
  EXPECT_TRUE(result.changed);
  EXPECT_EQ(result.stats["nodes_converted"], 3) << result.summary;  // MatMul, Add, Relu; TopK is blocked
  EXPECT_EQ(model.graph->findValue("w")->initializer()->dtype, DType::kFloat16);
  EXPECT_EQ(model.graph->findValue("b")->initializer()->dtype, DType::kFloat16);
  EXPECT_EQ(model.graph->findValue("k")->initializer()->dtype, DType::kInt64);
  // x -> Cast(fp16) -> MatMul; Relu's fp16 output -> Cast(fp32) -> TopK and -> output y.
  Node* matmul = producerOf(model, "m");
  ASSERT_EQ(matmul->input(0)->producer()->op_type, "Cast");
  EXPECT_EQ(matmul->input(0)->producer()->attrInt("to", 0), static_cast<int64_t>(DType::kFloat16));
  Node* topk = producerOf(model, "top");
  ASSERT_EQ(topk->input(0)->producer()->op_type, "Cast");
  EXPECT_EQ(topk->input(0)->producer()->attrInt("to", 0), static_cast<int64_t>(DType::kFloat));
  Value* y = model.graph->outputs()[0];
  EXPECT_EQ(y->name(), "y");
  EXPECT_EQ(y->type.elem_type, static_cast<int32_t>(DType::kFloat));
  ASSERT_EQ(y->producer()->op_type, "Cast");
  EXPECT_EQ(y->producer()->input(0)->producer()->op_type, "Relu");
  EXPECT_EQ(countOps(model, "Cast"), 3);
  expectValid(model);
  // y is both read by TopK and a graph output: two Casts of y, and ONNX Runtime refuses a graph
  // whose nodes share a name.
  std::set<std::string> names;
  for (Node* n : model.graph->nodes())
    if (!n->name.empty()) EXPECT_TRUE(names.insert(n->name).second) << "duplicate node name " << n->name;

  // Values: the float16 result is the float32 one to float16 precision (inputs in [-1, 1),
  // |y| <= 8: an error below 8 * 2^-10 per rounding, a few roundings).
  auto inputs = test::seededInputs(original, 2, 7);
  auto a = test::runModel(original, inputs), c = test::runModel(model, inputs);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(c.size(), 2u);
  for (size_t o = 0; o < 2; ++o)
    for (size_t i = 0; i < a[o].size(); ++i) EXPECT_NEAR(c[o][i], a[o][i], 0.03) << "output " << o << " element " << i;

  // Metadata: tool and options, sorted.
  bool recorded = false;
  for (const auto& [key, value] : model.metadata_props)
    if (key == "nncompress.convert-float") {
      recorded = true;
      EXPECT_NE(value.find("\"options\":{\"compute\":\"true\",\"keep_io_types\":\"true\",\"type\":\"fp16\"}"), std::string::npos) << value;
      EXPECT_NE(value.find(std::string("nncompress ") + NNC_VERSION), std::string::npos) << value;
    }
  EXPECT_TRUE(recorded);

  SKIP_WITHOUT_ORT();
  auto ort = test::ortOutputs(test::saveTemp(model, "small_fp16.onnx"), inputs);
  ASSERT_EQ(ort.size(), 2u);
  for (size_t o = 0; o < 2; ++o)
    for (size_t i = 0; i < c[o].size(); ++i) EXPECT_NEAR(ort[o][i], c[o][i], 0.01) << "output " << o << " element " << i;
}

TEST(ConvertFloat, WithoutKeepIoTypesInputsAndOutputsBecomeFloat16) {
  Model model = importText(kSmallModel);
  test::runPassText(model, "convert-float{type=fp16,keep_io_types=false}");
  EXPECT_EQ(model.graph->inputs()[0]->type.elem_type, static_cast<int32_t>(DType::kFloat16));
  EXPECT_EQ(model.graph->outputs()[0]->type.elem_type, static_cast<int32_t>(DType::kFloat16));
  EXPECT_EQ(model.graph->outputs()[0]->producer()->op_type, "Relu");
  // TopK stays float32, so its value output does too.
  EXPECT_EQ(model.graph->outputs()[1]->type.elem_type, static_cast<int32_t>(DType::kFloat));
  EXPECT_EQ(countOps(model, "Cast"), 1);  // Relu -> TopK only
  expectValid(model);
}

// A normalization of constant rows: x - mean(x) = 0 and var = 0, so the result is 0 / sqrt(eps).
// float16 flushes eps = 1e-12 to zero (0 / 0 = NaN); the pass keeps it at the smallest subnormal.
TEST(ConvertFloat, EpsilonNeverBecomesZero) {
  Model model = importText(R"(
<ir_version: 7, opset_import: ["" : 13]>
g (float[2,4] x) => (float[2,4] y) <float eps = {1e-12}> {
  mean = ReduceMean <axes = [1]> (x)
  d = Sub(x, mean)
  sq = Mul(d, d)
  var = ReduceMean <axes = [1]> (sq)
  ve = Add(var, eps)
  s = Sqrt(ve)
  y = Div(d, s)
}
)");
  Model original = test::copyModel(model);
  PassResult result = test::runPassText(model, "convert-float{type=fp16}");
  EXPECT_EQ(result.stats["tiny_values_raised"], 1);
  const Tensor* eps = model.graph->findValue("eps")->initializer();
  ASSERT_EQ(eps->dtype, DType::kFloat16);
  EXPECT_EQ(eps->dataAs<uint16_t>()[0], 0x0001) << "the smallest float16 subnormal, 2^-24";
  // Row 0 constant (the NaN case), row 1 ordinary.
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {2, 4}, std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f, 1.0f, -1.0f, 2.0f, 0.0f});
  auto a = test::runModel(original, {{"x", x}}), c = test::runModel(model, {{"x", x}});
  ASSERT_EQ(c.size(), 1u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_TRUE(std::isfinite(c[0][i])) << i;
    EXPECT_NEAR(c[0][i], a[0][i], 0.01) << i;
  }
  expectValid(model);
}

// A weight outside float16's range keeps its reader in float32 (no Inf), the rest converts.
TEST(ConvertFloat, WeightOutsideFloat16RangeKeepsItsReaderInFloat32) {
  Model model = importText(R"(
<ir_version: 7, opset_import: ["" : 13]>
g (float[2,3] x) => (float[2,3] y) <float[3] big = {70000.0, 1.0, -2.0}, float[3] small = {0.001, 0.001, 0.001}> {
  m = Mul(x, big)
  s = Mul(m, small)
  y = Relu(s)
}
)");
  Model original = test::copyModel(model);
  PassResult result = test::runPassText(model, "convert-float{type=fp16}");
  EXPECT_EQ(result.stats["constants_out_of_range"], 1);
  EXPECT_EQ(model.graph->findValue("big")->initializer()->dtype, DType::kFloat);
  EXPECT_EQ(model.graph->findValue("small")->initializer()->dtype, DType::kFloat16);
  // m = x * 70000 overflows float16 too: the Mul that reads `big` stays float32, its output is
  // cast for the next Mul... which would be Inf. The pass cannot know activations without data,
  // so the test input keeps |x * 70000| below 65504.
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {2, 3}, std::vector<float>{0.5f, 0.25f, -0.5f, -0.75f, 1.0f, 0.125f});
  auto a = test::runModel(original, {{"x", x}}), c = test::runModel(model, {{"x", x}});
  ASSERT_EQ(c.size(), 1u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_TRUE(std::isfinite(c[0][i])) << i;
    EXPECT_NEAR(c[0][i], a[0][i], 0.05) << i;
  }
  EXPECT_EQ(producerOf(model, "m")->input(1)->name(), "big");
  expectValid(model);
}

// Constants inside If branches are converted; the branches' outputs stay float32 (they are the
// If node's interface), so a Cast ends each branch.
TEST(ConvertFloat, ConvertsInsideSubgraphsAndKeepsTheirInterface) {
  Model model = importText(R"(
<ir_version: 7, opset_import: ["" : 13]>
g (bool c, float[3] x) => (float[3] y) {
  y = If(c) <then_branch = t () => (float[3] ty) {
    k = Constant <value = float[3] {1.5, 2.5, 3.5}> ()
    ty = Mul(x, k)
  }, else_branch = e () => (float[3] ey) {
    j = Constant <value = float[3] {-1.0, 0.5, 4.0}> ()
    ey = Add(x, j)
  }>
}
)");
  Model original = test::copyModel(model);
  PassResult result = test::runPassText(model, "convert-float{type=fp16}");
  EXPECT_EQ(result.stats["constants_converted"], 2) << result.summary;
  EXPECT_EQ(result.stats["nodes_converted"], 2) << result.summary;
  const Node* if_node = model.graph->nodes()[0];
  ASSERT_EQ(if_node->op_type, "If");
  for (const char* branch : {"then_branch", "else_branch"}) {
    const Graph& g = *if_node->attr(branch)->g;
    EXPECT_EQ(g.outputs()[0]->producer()->op_type, "Cast") << branch;
    int half_constants = 0;
    for (Node* n : g.nodes())
      if (n->op_type == "Constant") half_constants += n->attr("value")->t.dtype == DType::kFloat16 ? 1 : 0;
    EXPECT_EQ(half_constants, 1) << branch;
  }
  expectValid(model);
  for (bool c : {true, false}) {
    Tensor cond = Tensor::fromValues<uint8_t>(DType::kBool, {}, std::vector<uint8_t>{c ? uint8_t(1) : uint8_t(0)});
    Tensor x = Tensor::fromValues<float>(DType::kFloat, {3}, std::vector<float>{0.5f, -1.0f, 2.0f});
    auto a = test::runModel(original, {{"c", cond}, {"x", x}}), b = test::runModel(model, {{"c", cond}, {"x", x}});
    ASSERT_EQ(b.size(), 1u);
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(b[0][i], a[0][i], 0.01);
  }
}

// b = x * 1e5 overflows float16 although every weight fits: only activation ranges can tell.
// With data in the PassContext the nodes touching b stay float32.
TEST(ConvertFloat, DataKeepsOverflowingActivationsInFloat32) {
  const char* text = R"(
<ir_version: 7, opset_import: ["" : 13]>
g (float[N,3] x) => (float[N,3] y) <float k1 = {1000.0}, float k2 = {100.0}, float k3 = {0.0001}> {
  a = Mul(x, k1)
  b = Mul(a, k2)
  y = Mul(b, k3)
}
)";
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {2, 3}, std::vector<float>{0.9f, -0.5f, 0.25f, -1.0f, 0.75f, 0.1f});
  Model blind = importText(text);
  test::runPassText(blind, "convert-float{type=fp16}");
  auto inf = test::runModel(blind, {{"x", x}});
  ASSERT_EQ(inf.size(), 1u);
  EXPECT_TRUE(std::isinf(inf[0][0])) << "without data, 0.9 * 1e5 overflows float16";

  Model model = importText(text);
  Model original = test::copyModel(model);
  Dataset data;
  data.addInput("x", arraySource(x, "x"));
  PassContext context;
  context.data = &data;
  auto pass = createPass(PassSpec{"convert-float", {{"type", "fp16"}}});
  ASSERT_TRUE(pass.isOk());
  auto result = (*pass)->run(model, context);
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(result->stats["nodes_kept_for_activation_range"], 2) << result->summary;
  EXPECT_EQ(result->stats["nodes_converted"], 1) << result->summary;
  EXPECT_EQ(result->stats["samples_observed"], 2);
  EXPECT_EQ(model.graph->findValue("k2")->initializer()->dtype, DType::kFloat);
  auto a = test::runModel(original, {{"x", x}}), c = test::runModel(model, {{"x", x}});
  ASSERT_EQ(c.size(), 1u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_TRUE(std::isfinite(c[0][i])) << i;
    EXPECT_NEAR(c[0][i], a[0][i], 0.01) << i;
  }
  expectValid(model);
}

TEST(ConvertFloat, Bfloat16StoresWeightsAndComputesInFloat32) {
  Model model = importText(kSmallModel);
  PassResult result = test::runPassText(model, "convert-float{type=bf16}");
  EXPECT_EQ(result.stats["nodes_converted"], 0);
  // Storage mode converts constants of 16 or more elements: w (12) stays float32.
  EXPECT_EQ(model.graph->findValue("w")->initializer()->dtype, DType::kFloat);
  Model big = importText(R"(
<ir_version: 7, opset_import: ["" : 13]>
g (float[1,4] x) => (float[1,4] y) <float[4,4] w = {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16.25}> {
  y = MatMul(x, w)
}
)");
  Model original = test::copyModel(big);
  test::runPassText(big, "convert-float{type=bf16}");
  const Tensor* w = big.graph->findValue("w")->initializer();
  ASSERT_EQ(w->dtype, DType::kBFloat16);
  EXPECT_EQ(bfloat16ToFloat(w->dataAs<uint16_t>()[15]), 16.25f);
  EXPECT_EQ(producerOf(big, "y")->input(1)->producer()->op_type, "Cast");
  expectValid(big);
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {1, 4}, std::vector<float>{1, 0, 0, 1});
  auto a = test::runModel(original, {{"x", x}}), b = test::runModel(big, {{"x", x}});
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(a[0][i], b[0][i]) << "weights exact in bfloat16";
}

TEST(ConvertFloat, RefusesBfloat16BeforeOpset13AndBadOptions) {
  Model model = importText(R"(
<ir_version: 7, opset_import: ["" : 11]>
g (float[3] x) => (float[3] y) { y = Relu(x) }
)");
  auto specs = parsePipeline("convert-float{type=bf16}");
  auto pass = createPass(specs->at(0));
  ASSERT_TRUE(pass.isOk());
  PassContext context;
  auto result = (*pass)->run(model, context);
  ASSERT_FALSE(result.isOk());
  EXPECT_NE(result.status().message().find("opset 13"), std::string::npos) << result.status().message();
  EXPECT_FALSE(createPass(PassSpec{"convert-float", {{"type", "fp8"}}}).isOk());
  EXPECT_FALSE(createPass(PassSpec{"convert-float", {{"keep_io", "true"}}}).isOk());
}

TEST(ConvertFloat, ExtraBlockedOpsStayFloat32) {
  Model model = importText(kSmallModel);
  PassResult result = test::runPassText(model, "convert-float{type=fp16,block=Relu+Add}");
  EXPECT_EQ(result.stats["nodes_converted"], 1) << result.summary;  // MatMul only
  EXPECT_EQ(producerOf(model, "a")->input(0)->producer()->op_type, "Cast");
  expectValid(model);
}

TEST(ConvertFloat, IsDeterministic) {
  Model a = test::loadBundled("tiny_transformer"), b = test::loadBundled("tiny_transformer");
  test::runPassText(a, "convert-float{type=fp16}");
  test::runPassText(b, "convert-float{type=fp16}");
  EXPECT_EQ(*serializeModel(a), *serializeModel(b));
}

// The bundled classifiers: accuracy on the 2000-sample test split, ours and ONNX Runtime's.
class ConvertFloatBundled : public ::testing::TestWithParam<const char*> {};

TEST_P(ConvertFloatBundled, Float16KeepsAccuracyAtHalfTheSize) {
  const std::string name = GetParam();
  Model model = test::loadBundled(name);
  const int64_t float_top1 = test::top1Correct(model);
  // mobilenet_small keeps 11 unfolded BatchNormalizations whose names and 4 small tensors each
  // are file overhead that float16 cannot halve: prepared with canonicalize first, as a user would.
  if (name == "mobilenet_small") test::runPassText(model, "canonicalize");
  test::runPassText(model, "convert-float{type=fp16}");
  expectValid(model);
  const int64_t half_top1 = test::top1Correct(model);
  EXPECT_LE(float_top1 - half_top1, 2) << "at most 0.1 point of 2000 samples lost";
  const auto float_bytes = std::filesystem::file_size(test::bundledModelsDir() + "/" + name + ".onnx");
  const std::string path = test::saveTemp(model, name + "_fp16.onnx");
  const double ratio = static_cast<double>(std::filesystem::file_size(path)) / static_cast<double>(float_bytes);
  // tiny_transformer: 4% of its float32 file is names and node structure, so float16 gives 52%.
  EXPECT_LE(ratio, name == "tiny_transformer" ? 0.53 : 0.51) << name;
  SKIP_WITHOUT_ORT();
  const int64_t ort_top1 = test::ortTop1Correct(path);
  EXPECT_LE(std::abs(ort_top1 - half_top1), 2) << "ours " << half_top1 << ", ONNX Runtime " << ort_top1;
}

TEST_P(ConvertFloatBundled, Bfloat16Works) {
  Model model = test::loadBundled(GetParam());
  const int64_t float_top1 = test::top1Correct(model);
  test::runPassText(model, "convert-float{type=bf16}");
  expectValid(model);
  const int64_t bf16_top1 = test::top1Correct(model);
  EXPECT_LE(std::abs(float_top1 - bf16_top1), 6) << "within 0.3 point";
  SKIP_WITHOUT_ORT();
  const int64_t ort_top1 = test::ortTop1Correct(test::saveTemp(model, std::string(GetParam()) + "_bf16.onnx"));
  EXPECT_LE(std::abs(ort_top1 - bf16_top1), 2) << "ours " << bf16_top1 << ", ONNX Runtime " << ort_top1;
}

INSTANTIATE_TEST_SUITE_P(Bundled, ConvertFloatBundled,
                         ::testing::Values("cnn_bn", "resnet_small", "mobilenet_small", "mlp", "tiny_transformer"),
                         [](const auto& info) { return std::string(info.param); });

// ISNet as published is already float16 inside (float32 in/out around Casts, Resize in
// float32): converting it again must change no node and keep it valid.
TEST(ConvertFloat, AlreadyFloat16IsnetIsLeftAsIs) {
  const char* home = std::getenv("HOME");
  const std::string path = std::string(home ? home : "") + "/.cache/nncompress/realmodels/models/isnet_fp16.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path << " (tools/realmodels/fetch.sh)";
  auto model = loadModel(path);
  ASSERT_TRUE(model.isOk()) << model.status().message();
  auto before = serializeModel(*model);
  PassResult result = test::runPassText(*model, "convert-float{type=fp16}");
  EXPECT_EQ(result.stats["nodes_converted"], 0);
  EXPECT_EQ(result.stats["casts_inserted"], 0);
  model->metadata_props.erase(std::remove_if(model->metadata_props.begin(), model->metadata_props.end(),
                                             [](const auto& kv) { return kv.first == "nncompress.convert-float"; }),
                              model->metadata_props.end());
  EXPECT_TRUE(*serializeModel(*model) == *before);
}

}  // namespace
}  // namespace nnc

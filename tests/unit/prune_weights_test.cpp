// prune-weights and sparse-storage: masks checked against hand-computed ones (magnitude, ties,
// N:M along the reduction axis of Gemm/MatMul/Conv, Wanda with known activation norms), global
// vs per-layer scope, first/last and pattern exclusion, determinism, and sparse initializers
// that keep the outputs identical.
#include <gtest/gtest.h>

#include "nncompress/data/dataset.h"
#include "nncompress/ir/sparse.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/pass.h"
#include "nncompress/runtime/session.h"
#include "passes/prune_masks.h"
#include "test_util.h"

namespace nnc {
namespace {

Model importText(const std::string& text) {
  onnx::ModelProto proto = test::parseText(text.c_str());
  auto model = importModel(proto, "");
  EXPECT_TRUE(model.isOk()) << model.status().message();
  return std::move(model).value();
}

Expected<PassResult> prune(Model& model, std::map<std::string, std::string> options, const Dataset* data = nullptr) {
  NNC_ASSIGN_OR_RETURN(auto pass, createPass({"prune-weights", std::move(options)}));
  PassContext context;
  context.data = data;
  return pass->run(model, context);
}

std::vector<float> weightOf(const Model& model, const std::string& name) {
  const Value* v = model.graph->findValue(name);
  EXPECT_NE(v, nullptr) << name;
  auto c = constantRefOf(const_cast<Value*>(v));
  EXPECT_TRUE(c.has_value()) << name;
  const Tensor& t = c->tensor();
  return std::vector<float>(t.dataAs<float>(), t.dataAs<float>() + t.elementCount());
}

// Three MatMuls in a chain; w2 has distinct magnitudes except 0.1 (x3), 0.2, 0.3, 0.6 (x2 each).
const char* kChain = R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,4] x) => (float[N,2] y)
<float[4,4] w1 = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0},
 float[4,4] w2 = {0.1, -0.5, 0.3, 0.8, -0.2, 0.6, -0.1, 0.05, 0.4, -0.3, 0.7, -0.9, 0.2, 0.1, -0.6, 0.25},
 float[4,2] w3 = {0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08}>
{ h1 = MatMul(x, w1)
  h2 = MatMul(h1, w2)
  y = MatMul(h2, w3) }
)";

TEST(PruneMasks, LowestScoringBreaksTiesByArrayThenIndex) {
  std::vector<double> a = {0.3, 0.1, 0.3, NAN}, b = {0.3, 0.0};
  auto masks = lowestScoring({&a, &b}, 3);
  EXPECT_EQ(masks[0], (std::vector<uint8_t>{1, 1, 0, 0}));  // 0.1, then the first 0.3
  EXPECT_EQ(masks[1], (std::vector<uint8_t>{0, 1}));        // 0.0
  masks = lowestScoring({&a, &b}, 5);                      // NaN last
  EXPECT_EQ(masks[0], (std::vector<uint8_t>{1, 1, 1, 0}));
  EXPECT_EQ(masks[1], (std::vector<uint8_t>{1, 1}));
  EXPECT_EQ(lowestScoring({&a}, 0)[0], (std::vector<uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(lowestScoring({&a}, 9)[0], (std::vector<uint8_t>{1, 1, 1, 1}));
}

TEST(PruneMasks, NmGroupsRunAlongTheReductionAxis) {
  // [outer=1, reduce=4, inner=2]: groups are (r=0..3, i) for each i, i.e. flat {0,2,4,6} and {1,3,5,7}.
  std::vector<double> s = {0.1, 0.9, 0.4, 0.1, 0.2, 0.8, 0.3, 0.2};
  EXPECT_EQ(nmMask(s, {1, 4, 2}, 2, 4), (std::vector<uint8_t>{1, 0, 0, 1, 1, 0, 0, 1}));
  // Ties: the lower index goes first; 1:4 prunes three.
  std::vector<double> t = {0.5, 0.5, 0.5, 0.5};
  EXPECT_EQ(nmMask(t, {1, 4, 1}, 2, 4), (std::vector<uint8_t>{1, 1, 0, 0}));
  EXPECT_EQ(nmMask(t, {1, 4, 1}, 1, 4), (std::vector<uint8_t>{1, 1, 1, 0}));
}

TEST(PruneWeights, LayerScopeMagnitudeMatchesHandComputedMask) {
  Model model = importText(kChain);
  auto result = prune(model, {{"sparsity", "0.5"}});
  ASSERT_TRUE(result.isOk()) << result.status().message();
  // The 8 smallest |w| of w2: 0.05, 0.1 x3, 0.2 x2, 0.25, then of the two 0.3 the lower index (2).
  EXPECT_EQ(weightOf(model, "w2"), (std::vector<float>{0, -0.5f, 0, 0.8f, 0, 0.6f, 0, 0, 0.4f, -0.3f, 0.7f, -0.9f, 0, 0, -0.6f, 0}));
  // First and last layers are kept by default.
  EXPECT_EQ(weightOf(model, "w1")[0], 1.0f);
  EXPECT_EQ(weightOf(model, "w3"), (std::vector<float>{0.01f, 0.02f, 0.03f, 0.04f, 0.05f, 0.06f, 0.07f, 0.08f}));
  const auto& layers = result->stats["layers"];
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_FALSE(layers[0]["pruned"].get<bool>());
  EXPECT_NE(layers[0]["reason"].get<std::string>().find("first layer"), std::string::npos);
  EXPECT_NE(layers[2]["reason"].get<std::string>().find("last layer"), std::string::npos);
  EXPECT_DOUBLE_EQ(layers[1]["sparsity_before"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(layers[1]["sparsity_after"].get<double>(), 0.5);
  EXPECT_TRUE(result->changed);
}

TEST(PruneWeights, L2RanksSingleWeightsLikeL1) {
  Model a = importText(kChain), b = importText(kChain);
  ASSERT_TRUE(prune(a, {{"sparsity", "0.5"}, {"importance", "l1"}}).isOk());
  ASSERT_TRUE(prune(b, {{"sparsity", "0.5"}, {"importance", "l2"}}).isOk());
  EXPECT_EQ(weightOf(a, "w2"), weightOf(b, "w2"));
}

TEST(PruneWeights, PruneFirstLastAndExcludePatterns) {
  Model model = importText(kChain);
  model.graph->nodes()[0]->name = "embed";
  model.graph->nodes()[1]->name = "block/fc";
  auto result = prune(model, {{"sparsity", "0.25"}, {"prune_first_last", "true"}, {"exclude", "block/*"}});
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(weightOf(model, "w1"), (std::vector<float>{0, 0, 0, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}));
  EXPECT_EQ(weightOf(model, "w2")[7], 0.05f);  // excluded by name
  EXPECT_EQ(weightOf(model, "w3"), (std::vector<float>{0, 0, 0.03f, 0.04f, 0.05f, 0.06f, 0.07f, 0.08f}));
  EXPECT_EQ(result->stats["layers"][1]["reason"], "excluded by pattern 'block/*'");
  // An op-type pattern excludes every layer of that type: nothing is left, which is an error.
  Model all = importText(kChain);
  auto none = prune(all, {{"sparsity", "0.5"}, {"prune_first_last", "true"}, {"exclude", "Conv+MatMul"}});
  ASSERT_FALSE(none.isOk());
  EXPECT_NE(none.status().message().find("no layer left to prune"), std::string::npos);
}

// Two middle layers, wa = 0.01..0.16 and wb starting with 0.16 (a tie across layers).
const char* kTwoMiddle = R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,4] x) => (float[N,4] y)
<float[4,4] w1 = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0},
 float[4,4] wa = {0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16},
 float[4,4] wb = {0.16, 1.5, 1.4, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 1.6},
 float[4,4] w4 = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0}>
{ h1 = MatMul(x, w1)
  h2 = MatMul(h1, wa)
  h3 = MatMul(h2, wb)
  y = MatMul(h3, w4) }
)";

int zerosIn(const std::vector<float>& v) { return static_cast<int>(std::count(v.begin(), v.end(), 0.0f)); }

TEST(PruneWeights, GlobalScopeRanksAcrossLayers) {
  Model layer = importText(kTwoMiddle);
  ASSERT_TRUE(prune(layer, {{"sparsity", "0.5"}}).isOk());
  EXPECT_EQ(zerosIn(weightOf(layer, "wa")), 8);
  EXPECT_EQ(zerosIn(weightOf(layer, "wb")), 8);
  // Global 16 of 32: all of wa (its 0.16 wins the tie with wb's 0.16: earlier layer first).
  Model global = importText(kTwoMiddle);
  auto result = prune(global, {{"sparsity", "0.5"}, {"scope", "global"}});
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(zerosIn(weightOf(global, "wa")), 16);
  EXPECT_EQ(zerosIn(weightOf(global, "wb")), 0);
  EXPECT_DOUBLE_EQ(result->stats["pruned_weights_sparsity_after"].get<double>(), 0.5);
  // 17 of 32: wb's 0.16 goes next.
  Model more = importText(kTwoMiddle);
  ASSERT_TRUE(prune(more, {{"sparsity", "0.53125"}, {"scope", "global"}}).isOk());
  EXPECT_EQ(weightOf(more, "wb")[0], 0.0f);
  EXPECT_EQ(zerosIn(weightOf(more, "wb")), 1);
}

TEST(PruneWeights, OutputScopePrunesEveryOutputNeuronAlike) {
  // MatMul W[K=4, N=4]: output j's inputs are column j. k = 2 per column:
  // col 0 {.1,.2,.4,.2} -> r0, r1 (tie .2: lower r); col 1 {.5,.6,.3,.1} -> r3, r2;
  // col 2 {.3,.1,.7,.6} -> r1, r0; col 3 {.8,.05,.9,.25} -> r1, r3.
  Model model = importText(kChain);
  auto result = prune(model, {{"sparsity", "0.5"}, {"scope", "output"}});
  ASSERT_TRUE(result.isOk()) << result.status().message();
  EXPECT_EQ(weightOf(model, "w2"), (std::vector<float>{0, -0.5f, 0, 0.8f, 0, 0.6f, 0, 0, 0.4f, 0, 0.7f, -0.9f, 0.2f, 0, -0.6f, 0}));
  EXPECT_EQ(result->stats["scope"], "output");
  std::vector<double> s = {3, 1, 2, 0, 5, 4};  // [outer=2, reduce=3, inner=1]
  EXPECT_EQ(perOutputMask(s, {2, 3, 1}, 1), (std::vector<uint8_t>{0, 1, 0, 1, 0, 0}));
}

TEST(PruneWeights, NmOnGemmFollowsTransB) {
  // The same logical weight [K=8, N=2] stored as B (transB=0) and as B^T (transB=1).
  const std::vector<float> rows_nk = {0.9f, -0.1f, 0.5f, 0.2f, 0.3f, 0.3f, -0.8f, 0.3f, 1, 2, 3, 4, -4, -3, -2, -1};
  std::string values_nk, values_kn;
  for (float v : rows_nk) values_nk += (values_nk.empty() ? "" : ", ") + std::to_string(v);
  for (int k = 0; k < 8; ++k)
    for (int n = 0; n < 2; ++n) values_kn += (values_kn.empty() ? "" : ", ") + std::to_string(rows_nk[n * 8 + k]);
  auto model_text = [](const std::string& shape, const std::string& values, int trans_b) {
    return "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[N,8] x) => (float[N,2] y)\n<float" + shape + " b = {" + values +
           "}>\n{ y = Gemm <transB = " + std::to_string(trans_b) + "> (x, b) }";
  };
  Model nk = importText(model_text("[2,8]", values_nk, 1));
  Model kn = importText(model_text("[8,2]", values_kn, 0));
  for (Model* m : {&nk, &kn}) {
    auto r = prune(*m, {{"granularity", "n:m"}, {"prune_first_last", "true"}});
    ASSERT_TRUE(r.isOk()) << r.status().message();
    EXPECT_DOUBLE_EQ(r->stats["target_sparsity"].get<double>(), 0.5);
  }
  // Row 0 groups {0.9,-0.1,0.5,0.2} -> drop -0.1, 0.2; {0.3,0.3,-0.8,0.3} -> drop the first two 0.3.
  // Row 1 groups {1,2,3,4} -> drop 1, 2; {-4,-3,-2,-1} -> drop -2, -1.
  const std::vector<float> expect_nk = {0.9f, 0, 0.5f, 0, 0, 0, -0.8f, 0.3f, 0, 0, 3, 4, -4, -3, 0, 0};
  EXPECT_EQ(weightOf(nk, "b"), expect_nk);
  std::vector<float> expect_kn;
  for (int k = 0; k < 8; ++k)
    for (int n = 0; n < 2; ++n) expect_kn.push_back(expect_nk[n * 8 + k]);
  EXPECT_EQ(weightOf(kn, "b"), expect_kn);
}

TEST(PruneWeights, OutputScopeOnConvTakesAnOutputChannelsWholeRow) {
  // W[2, 2, 1, 2]: channel 0's row {0.4, 0.1, 0.3, 0.2}, channel 1's {0.5, 0.9, 0.6, 0.7}; 50% per row.
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,2,1,3] x) => (float[N,2,1,2] y)
<float[2,2,1,2] w = {0.4, 0.1, 0.3, 0.2, 0.5, 0.9, 0.6, 0.7}>
{ y = Conv(x, w) }
)");
  ASSERT_TRUE(prune(model, {{"sparsity", "0.5"}, {"scope", "output"}, {"prune_first_last", "true"}}).isOk());
  EXPECT_EQ(weightOf(model, "w"), (std::vector<float>{0.4f, 0, 0.3f, 0, 0, 0.9f, 0, 0.7f}));
}

TEST(PruneWeights, NmOnConvGroupsInputChannelsAtEachKernelPosition) {
  // W[1, 4, 1, 2]: the 2:4 groups are the 4 input channels at kernel column 0 and at column 1.
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,4,1,3] x) => (float[N,1,1,2] y)
<float[1,4,1,2] w = {0.1, 0.9, 0.4, 0.1, 0.2, 0.8, 0.3, 0.2}>
{ y = Conv(x, w) }
)");
  ASSERT_TRUE(prune(model, {{"granularity", "n:m"}, {"n", "2"}, {"m", "4"}, {"prune_first_last", "true"}}).isOk());
  EXPECT_EQ(weightOf(model, "w"), (std::vector<float>{0, 0.9f, 0.4f, 0, 0, 0.8f, 0.3f, 0}));
}

TEST(PruneWeights, NmSkipsLayersWhoseFeaturesAreNotAMultipleOfM) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,6] x) => (float[N,2] y)
<float[6,2] w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}>
{ y = MatMul(x, w) }
)");
  auto r = prune(model, {{"granularity", "n:m"}, {"prune_first_last", "true"}});
  ASSERT_FALSE(r.isOk());  // the only layer is skipped: nothing left
  EXPECT_NE(r.status().message().find("no layer left"), std::string::npos);
}

Dataset wandaData() {
  // Feature L2 norms over the two samples: sqrt(9+16)=5, 0, 1, 1.
  Dataset data;
  data.addInput("x", arraySource(Tensor::fromValues<float>(DType::kFloat, {2, 4}, {3, 0, 1, 0, 4, 0, 0, 1}), "x"));
  return data;
}

const char* kWandaGemm = R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,4] x) => (float[N,2] y)
<float[2,4] w = {0.1, 0.9, 0.5, 0.3, 0.2, 0.8, 0.4, 0.6}>
{ y = Gemm <transB = 1> (x, w) }
)";

TEST(PruneWeights, WandaScalesMagnitudesByInputNorms) {
  // Scores |w| * ||x_j||: row 0 {0.5, 0, 0.5, 0.3}, row 1 {1.0, 0, 0.4, 0.6}; the 4 lowest are
  // flat 1, 5 (0), 3 (0.3), 6 (0.4). Magnitude alone would prune 0, 4, 3, 6.
  Dataset data = wandaData();
  Model model = importText(kWandaGemm);
  auto r = prune(model, {{"sparsity", "0.5"}, {"importance", "wanda"}, {"prune_first_last", "true"}}, &data);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(weightOf(model, "w"), (std::vector<float>{0.1f, 0, 0.5f, 0, 0.2f, 0, 0, 0.6f}));
  Model magnitude = importText(kWandaGemm);
  ASSERT_TRUE(prune(magnitude, {{"sparsity", "0.5"}, {"prune_first_last", "true"}}).isOk());
  EXPECT_EQ(weightOf(magnitude, "w"), (std::vector<float>{0, 0.9f, 0.5f, 0, 0, 0.8f, 0, 0.6f}));
  // Wanda 2:4 per row group: row 0 drops 1 (0) and 3 (0.3); row 1 drops 1 (0) and 2 (0.4).
  Model nm = importText(kWandaGemm);
  ASSERT_TRUE(prune(nm, {{"granularity", "n:m"}, {"importance", "wanda"}, {"prune_first_last", "true"}}, &data).isOk());
  EXPECT_EQ(weightOf(nm, "w"), (std::vector<float>{0.1f, 0, 0.5f, 0, 0.2f, 0, 0, 0.6f}));
}

TEST(PruneWeights, WandaMeasuresIntermediateActivations) {
  // h = x * {1,1,1,10}: norms 5, 0, 1, 10 -> scores row 0 {0.5, 0, 0.5, 3}, row 1 {1, 0, 0.4, 6};
  // the 4 lowest: flat 1, 5, 6 (0.4), 2 (0.5 exactly; flat 0 is 0.1f*5, slightly above).
  Dataset data = wandaData();
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,4] x) => (float[N,2] y)
<float[4] s = {1, 1, 1, 10}, float[2,4] w = {0.1, 0.9, 0.5, 0.3, 0.2, 0.8, 0.4, 0.6}>
{ h = Mul(x, s)
  y = Gemm <transB = 1> (h, w) }
)");
  auto r = prune(model, {{"sparsity", "0.5"}, {"importance", "wanda"}, {"prune_first_last", "true"}}, &data);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(weightOf(model, "w"), (std::vector<float>{0.1f, 0, 0, 0.3f, 0.2f, 0, 0, 0.6f}));
}

TEST(PruneWeights, WandaWithoutDataIsAnError) {
  Model model = importText(kWandaGemm);
  auto r = prune(model, {{"sparsity", "0.5"}, {"importance", "wanda"}, {"prune_first_last", "true"}});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("needs calibration data"), std::string::npos);
}

TEST(PruneWeights, PrunesWeightsHeldInConstantNodes) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,2] x) => (float[N,2] y)
{ w = Constant <value = float[2,2] {4.0, -1.0, 2.0, 3.0}> ()
  y = MatMul(x, w) }
)");
  ASSERT_TRUE(prune(model, {{"sparsity", "0.5"}, {"prune_first_last", "true"}}).isOk());
  EXPECT_EQ(weightOf(model, "w"), (std::vector<float>{4.0f, 0, 0, 3.0f}));
}

TEST(PruneWeights, OptionErrorsNameTheOption) {
  auto message = [](std::map<std::string, std::string> options) { return createPass({"prune-weights", options}).status().message(); };
  EXPECT_NE(message({}).find("sparsity is required"), std::string::npos);
  EXPECT_NE(message({{"sparsity", "1.5"}}).find("[0, 1)"), std::string::npos);
  EXPECT_NE(message({{"sparsity", "0.5"}, {"granularity", "block"}}).find("granularity=block"), std::string::npos);
  EXPECT_NE(message({{"sparsity", "0.5"}, {"importance", "taylor"}}).find("importance=taylor"), std::string::npos);
  EXPECT_NE(message({{"sparsity", "0.5"}, {"scope", "model"}}).find("scope=model must be layer, global or output"), std::string::npos);
  EXPECT_NE(message({{"granularity", "n:m"}, {"sparsity", "0.7"}}).find("makes the sparsity 0.5"), std::string::npos);
  EXPECT_NE(message({{"granularity", "n:m"}, {"n", "4"}, {"m", "4"}}).find("0 <= n < m"), std::string::npos);
  EXPECT_NE(message({{"sparsity", "0.5"}, {"frob", "1"}}).find("unknown option(s) frob"), std::string::npos);
  EXPECT_TRUE(createPass({"prune-weights", {{"granularity", "n:m"}, {"sparsity", "0.5"}}}).isOk());
}

TEST(PruneWeights, SameInputSameBytes) {
  auto once = [] {
    Model model = importText(kTwoMiddle);
    EXPECT_TRUE(prune(model, {{"sparsity", "0.4"}, {"scope", "global"}, {"prune_first_last", "true"}}).isOk());
    return *serializeModel(model);
  };
  EXPECT_EQ(once(), once());
}

TEST(SparseTensors, DensifyAndSparsifyRoundTrip) {
  const Tensor dense = Tensor::fromValues<float>(DType::kFloat, {2, 3}, {0, 1.5f, 0, -0.0f, 0, 2});
  SparseTensor sparse = sparsify(dense);
  // -0.0 is stored (its bits are not zero), so densify gives back the same bytes.
  EXPECT_EQ(sparse.values.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(std::vector<int64_t>(sparse.indices.dataAs<int64_t>(), sparse.indices.dataAs<int64_t>() + 3), (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(sparseStorageBytes(dense), 3u * 12u);
  auto back = densify(sparse);
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_TRUE(sameContents(*back, dense));
  // Coordinate indices [NNZ, rank] are read too; out-of-range ones are refused.
  SparseTensor coo;
  coo.dims = {2, 3};
  coo.values = Tensor::fromValues<float>(DType::kFloat, {2}, {7, 8});
  coo.indices = Tensor::fromValues<int64_t>(DType::kInt64, {2, 2}, {0, 2, 1, 0});
  auto d = densify(coo);
  ASSERT_TRUE(d.isOk()) << d.status().message();
  EXPECT_EQ(std::vector<float>(d->dataAs<float>(), d->dataAs<float>() + 6), (std::vector<float>{0, 0, 7, 8, 0, 0}));
  coo.indices = Tensor::fromValues<int64_t>(DType::kInt64, {2, 2}, {0, 3, 1, 0});
  EXPECT_FALSE(densify(coo).isOk());
}

TEST(SparseStorage, StoresMostlyZeroWeightsSparseAndKeepsOutputs) {
  std::string values;
  for (int i = 0; i < 64; ++i) values += (i ? ", " : "") + std::string(i == 5 ? "2.5" : i == 40 ? "-1.0" : i == 63 ? "0.5" : "0.0");
  const std::string text = "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[N,8] x) => (float[N,8] y)\n<float[8,8] w = {" + values +
                           "}, float[8] b = {1, 2, 3, 4, 5, 6, 7, 8}>\n{ h = MatMul(x, w)\n y = Add(h, b) }";
  Model model = importText(text);
  const std::string dense_bytes = *serializeModel(model);
  auto pass = createPass({"sparse-storage", {}});
  ASSERT_TRUE(pass.isOk());
  PassContext context;
  auto r = (*pass)->run(model, context);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->stats["converted"], 1);  // w (256 -> 36 bytes); b is dense
  EXPECT_EQ(r->stats["sparse_bytes"], 36);
  ASSERT_EQ(model.graph->sparseInitializers().size(), 1u);
  EXPECT_EQ(model.graph->initializers().size(), 1u);
  const std::string sparse_bytes = *serializeModel(model);
  EXPECT_LT(sparse_bytes.size() + 150, dense_bytes.size());
  // The saved model loads back with its sparse initializer and computes the same outputs.
  auto reloaded = parseModel(sparse_bytes.data(), sparse_bytes.size());
  ASSERT_TRUE(reloaded.isOk()) << reloaded.status().message();
  ASSERT_EQ(reloaded->graph->sparseInitializers().size(), 1u);
  Model original = importText(text);
  auto sa = Session::create(original);
  auto sb = Session::create(*reloaded);
  ASSERT_TRUE(sa.isOk() && sb.isOk()) << sb.status().message();
  NamedTensors inputs = {{"x", Tensor::fromValues<float>(DType::kFloat, {1, 8}, {1, 2, 3, 4, 5, 6, 7, 8})}};
  auto oa = (*sa)->run(inputs);
  auto ob = (*sb)->run(inputs);
  ASSERT_TRUE(oa.isOk() && ob.isOk());
  EXPECT_TRUE(sameContents((*oa)[0], (*ob)[0]));
  // y = x @ w + b with w[0,5] = 2.5, w[5,0] = -1, w[7,7] = 0.5: y[0] = -6 + 1, y[5] = 2.5 + 6, y[7] = 4 + 8.
  EXPECT_EQ((*ob)[0].dataAs<float>()[0], -5.0f);
  EXPECT_EQ((*ob)[0].dataAs<float>()[5], 8.5f);
  EXPECT_EQ((*ob)[0].dataAs<float>()[7], 12.0f);
  // A min_saving larger than the saving leaves the tensor dense.
  Model again = importText(text);
  auto strict = createPass({"sparse-storage", {{"min_saving", "1000"}}});
  ASSERT_TRUE(strict.isOk());
  ASSERT_TRUE((*strict)->run(again, context).isOk());
  EXPECT_TRUE(again.graph->sparseInitializers().empty());
}

}  // namespace
}  // namespace nnc

// Pipeline text and the canonicalize pass: structure after the pass, and outputs equal to the
// original model's on seeded random inputs.
#include <gtest/gtest.h>

#include "nncompress/data/random_inputs.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/pass.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

using test::importText;

Model clone(const Model& model) {
  auto bytes = serializeModel(model);
  auto copy = parseModel(bytes->data(), bytes->size());
  return std::move(copy).value();
}

// Runs both models on the same random inputs and returns the largest absolute difference.
double maxDifference(const Model& a, const Model& b, uint64_t seed) {
  auto sa = Session::create(a);
  auto sb = Session::create(b);
  EXPECT_TRUE(sa.isOk()) << sa.status().message();
  EXPECT_TRUE(sb.isOk()) << sb.status().message();
  if (!sa || !sb) return 1e30;
  RandomInputOptions random;
  random.batch = 2;
  random.seed = seed;
  auto inputs = randomInputs(**sa, random);
  auto oa = (*sa)->run(*inputs);
  auto ob = (*sb)->run(*inputs);
  EXPECT_TRUE(oa.isOk() && ob.isOk());
  double worst = 0;
  for (size_t i = 0; i < oa->size(); ++i) {
    const Tensor& x = (*oa)[i];
    const Tensor& y = (*ob)[i];
    EXPECT_EQ(x.shape, y.shape);
    for (int64_t k = 0; k < x.elementCount(); ++k) worst = std::max(worst, std::fabs(double(x.dataAs<float>()[k]) - y.dataAs<float>()[k]));
  }
  return worst;
}

PassResult runPass(Model& model, const std::string& text) {
  auto specs = parsePipeline(text);
  EXPECT_TRUE(specs.isOk()) << specs.status().message();
  auto pass = createPass(specs->at(0));
  EXPECT_TRUE(pass.isOk()) << pass.status().message();
  PassContext context;
  auto result = (*pass)->run(model, context);
  EXPECT_TRUE(result.isOk()) << result.status().message();
  return *result;
}

TEST(PipelineText, ParsesAndNormalizes) {
  auto specs = parsePipeline(" canonicalize , prune{ sparsity=0.5 ,granularity=channel},quantize ");
  ASSERT_TRUE(specs.isOk()) << specs.status().message();
  ASSERT_EQ(specs->size(), 3u);
  EXPECT_EQ((*specs)[1].options.at("sparsity"), "0.5");
  EXPECT_EQ(formatPipeline(*specs), "canonicalize,prune{granularity=channel,sparsity=0.5},quantize");
}

TEST(PipelineText, ErrorsNameThePosition) {
  EXPECT_NE(parsePipeline("prune{sparsity}").status().message().find("expected '=' after option 'sparsity'"), std::string::npos);
  EXPECT_NE(parsePipeline("a,,b").status().message().find("character 3"), std::string::npos);
  EXPECT_NE(parsePipeline("").status().message().find("empty"), std::string::npos);
  EXPECT_NE(parsePipeline("p{a=1,a=2}").status().message().find("given twice"), std::string::npos);
  EXPECT_NE(createPass({"frobnicate", {}}).status().message().find("unknown pass 'frobnicate'"), std::string::npos);
  EXPECT_NE(createPass({"canonicalize", {{"x", "1"}}}).status().message().find("unknown option(s) x"), std::string::npos);
}

TEST(Canonicalize, RemovesIdentityAndDropoutKeepingOutputNames) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[N,3] x) => (float[N,3] y, float[N,3] z) {
  a = Relu(x)
  b = Identity(a)
  c = Dropout(b)
  y = Identity(c)
  d = Mul(c, c)
  z = Identity(d)
}
)");
  Model original = clone(model);
  PassResult result = runPass(model, "canonicalize");
  EXPECT_TRUE(result.changed);
  Graph& g = *model.graph;
  ASSERT_EQ(g.nodeCount(), 2u) << result.summary;
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  EXPECT_EQ(g.outputs()[1]->name(), "z");
  EXPECT_EQ(g.outputs()[0]->producer()->op_type, "Relu");
  EXPECT_EQ(maxDifference(original, model, 1), 0.0);
}

TEST(Canonicalize, KeepsIdentityBetweenGraphInputAndOutput) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3] x) => (float[3] y) { y = Identity(x) }
)");
  runPass(model, "canonicalize");
  EXPECT_EQ(model.graph->nodeCount(), 1u);
}

TEST(Canonicalize, FoldsConstantsButNotDequantize) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3] x) => (float[3] y) <float[3] w = {1.0, 2.0, 3.0}, float[3] v = {0.5, 0.5, 0.5}> {
  k = Constant <value = float[3] {1.0, 1.0, 1.0}> ()
  s = Add(w, k)
  t = Mul(s, v)
  y = Mul(x, t)
}
)");
  Model original = clone(model);
  PassResult result = runPass(model, "canonicalize");
  ASSERT_EQ(model.graph->nodeCount(), 1u) << result.summary;
  const Tensor* t = model.graph->findValue("t")->initializer();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dataAs<float>()[2], 2.0f);  // (3 + 1) * 0.5
  EXPECT_EQ(model.graph->initializers().size(), 1u) << "unused w, v, s removed";
  EXPECT_EQ(maxDifference(original, model, 2), 0.0);

  Model qdq = importText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3] x) => (float[3] y) <int8[3] q = {1, 2, 3}, float s = {0.5}, int8 z = {0}> {
  w = DequantizeLinear(q, s, z)
  y = Mul(x, w)
}
)");
  runPass(qdq, "canonicalize");
  EXPECT_EQ(qdq.graph->nodeCount(), 2u) << "DequantizeLinear of int8 weights must stay";
}

TEST(Canonicalize, RemovesDeadNodesAndUnusedInitializers) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3] x) => (float[3] y) <float[3] unused = {1.0, 2.0, 3.0}> {
  dead1 = Relu(x)
  dead2 = Mul(dead1, dead1)
  y = Relu(x)
}
)");
  PassResult result = runPass(model, "canonicalize");
  EXPECT_EQ(model.graph->nodeCount(), 1u);
  EXPECT_TRUE(model.graph->initializers().empty());
  EXPECT_EQ(result.stats["dead_removed"], 3);
}

}  // namespace
}  // namespace nnc

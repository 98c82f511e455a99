// prune-channels and the channel dependency analysis: one graph per topology (residual add,
// concat, split, depthwise, flatten->gemm, reshape->gemm, attention heads, a branch feeding two
// consumers, unknown ops). Each test zeroes the weights of the channels it expects to lose, so
// importance must pick exactly those; the pruned model must then have the expected shapes, pass
// the ONNX checker, and give outputs bit-identical to the original's. The bundled models are
// pruned too and must still run with the same output shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "nncompress/analysis/channel_groups.h"
#include "nncompress/data/random_inputs.h"
#include "nncompress/onnx/checker.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/pass.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

// An initializer in ONNX text syntax: seeded values in [-1, 1), with the positions for which
// `zero(index vector)` is true set to 0.
using ZeroRule = std::function<bool(const std::vector<int64_t>&)>;
std::string weight(const std::string& name, const std::vector<int64_t>& shape, uint64_t seed, ZeroRule zero = nullptr) {
  std::ostringstream out;
  out << "float[";
  int64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    out << (i ? "," : "") << shape[i];
    count *= shape[i];
  }
  out << "] " << name << " = {";
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 12345;
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t k = 0; k < count; ++k) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    float v = static_cast<float>((state >> 40) & 0xFFFF) / 32768.0f - 1.0f;
    if (zero && zero(index)) v = 0.0f;
    out << (k ? ", " : "") << v;
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  out << "}";
  return out.str();
}

ZeroRule onAxis(int axis, std::set<int64_t> positions) {
  return [axis, positions](const std::vector<int64_t>& i) { return positions.count(i[axis]) > 0; };
}

Model importText(const std::string& text) {
  onnx::ModelProto proto = test::parseText(text.c_str());
  auto model = importModel(proto, "");
  EXPECT_TRUE(model.isOk()) << model.status().message();
  return std::move(model).value();
}

Model clone(const Model& model) {
  auto bytes = serializeModel(model);
  return std::move(parseModel(bytes->data(), bytes->size())).value();
}

PassResult runPass(Model& model, PassSpec spec) {
  auto pass = createPass(spec);
  EXPECT_TRUE(pass.isOk()) << pass.status().message();
  PassContext context;
  auto result = (*pass)->run(model, context);
  EXPECT_TRUE(result.isOk()) << result.status().message();
  return result.isOk() ? *result : PassResult{};
}

std::vector<Tensor> runModel(const Model& model, uint64_t seed, int64_t batch = 2) {
  auto session = Session::create(model);
  EXPECT_TRUE(session.isOk()) << session.status().message();
  if (!session) return {};
  RandomInputOptions random;
  random.batch = batch;
  random.seed = seed;
  auto inputs = randomInputs(**session, random);
  EXPECT_TRUE(inputs.isOk()) << inputs.status().message();
  auto outputs = (*session)->run(*inputs);
  EXPECT_TRUE(outputs.isOk()) << outputs.status().message();
  return outputs.isOk() ? *outputs : std::vector<Tensor>{};
}

// The pruned model is valid ONNX and computes what the original computed: bit for bit when
// `tolerance` is 0. Gemm/MatMul results may differ in the last bit: the runtime's matrix kernels
// take different vector/FMA paths for different K and N (with the removed terms exactly zero).
void expectSameOutputs(const Model& original, const Model& pruned, double tolerance = 0) {
  CheckReport check = checkModel(pruned);
  EXPECT_EQ(check.result, CheckResult::kValid) << check.message;
  std::vector<Tensor> a = runModel(original, 7), b = runModel(pruned, 7);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].shape, b[i].shape);
    ASSERT_EQ(a[i].byteSize(), b[i].byteSize());
    double worst = 0;
    for (int64_t k = 0; k < a[i].elementCount(); ++k)
      worst = std::max(worst, static_cast<double>(std::fabs(a[i].dataAs<float>()[k] - b[i].dataAs<float>()[k])));
    if (tolerance == 0)
      EXPECT_EQ(std::memcmp(a[i].bytes(), b[i].bytes(), a[i].byteSize()), 0) << "output " << i << " differs by up to " << worst;
    else
      EXPECT_LE(worst, tolerance) << "output " << i;
  }
}

std::vector<int64_t> shapeOf(const Model& model, const std::string& node_name, size_t input) {
  for (Node* n : model.graph->nodes())
    if (n->name == node_name) {
      auto c = constantRefOf(n->input(input));
      if (c) return c->tensor().shape;
    }
  ADD_FAILURE() << "no constant input " << input << " of node " << node_name;
  return {};
}

std::vector<int64_t> intsOf(const Model& model, const std::string& node_name, size_t input) {
  for (Node* n : model.graph->nodes())
    if (n->name == node_name) {
      const Tensor& t = constantRefOf(n->input(input))->tensor();
      return std::vector<int64_t>(t.dataAs<int64_t>(), t.dataAs<int64_t>() + t.elementCount());
    }
  ADD_FAILURE() << "no node " << node_name;
  return {};
}

using V = std::vector<int64_t>;

TEST(PruneChannels, ResidualAddCouplesBothProducers) {
  // conv1 and conv2 feed the same Add: their output channels are one group. Channels 1, 5, 6, 7
  // are dead (zero rows, zero bias, zero consumer columns).
  const std::set<int64_t> dead = {1, 5, 6, 7};
  Model model = importText("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,4,6,6] x) => (float[N,4,6,6] y) <" +
                           weight("w1", {8, 4, 3, 3}, 1, onAxis(0, dead)) + ", " + weight("b1", {8}, 2, onAxis(0, dead)) + ", " +
                           weight("w2", {8, 8, 3, 3}, 3, [&](const V& i) { return dead.count(i[0]) || dead.count(i[1]); }) + ", " +
                           weight("b2", {8}, 4, onAxis(0, dead)) + ", " + weight("w3", {4, 8, 1, 1}, 5, onAxis(1, dead)) +
                           ", float[N,8,6,6] s" + R"(> {
  c1 = Conv <pads = [1,1,1,1]> (x, w1, b1)
  r1 = Relu(c1)
  c2 = Conv <pads = [1,1,1,1]> (r1, w2, b2)
  s = Add(r1, c2)
  r2 = Relu(s)
  y = Conv (r2, w3)
})");
  for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
  auto analysis = analyzeChannelGroups(model);
  ASSERT_TRUE(analysis.isOk());
  ASSERT_EQ(analysis->groups.size(), 2u);
  EXPECT_EQ(analysis->groups[0].channels.size(), 8u);
  EXPECT_EQ(analysis->groups[0].producers.size(), 2u);
  EXPECT_TRUE(analysis->groups[0].prunable);
  EXPECT_FALSE(analysis->groups[1].prunable) << "conv3 feeds the graph output";
  EXPECT_NE(analysis->groups[1].reason.find("graph output 'y'"), std::string::npos) << analysis->groups[1].reason;

  Model original = clone(model);
  PassResult result = runPass(model, {"prune-channels", {{"sparsity", "0.5"}, {"scope", "layer"}}});
  EXPECT_TRUE(result.changed);
  EXPECT_EQ(result.stats["channels_removed"], 4);
  // MACs per sample: 8x6x6 outputs x 4x3x3 + 8x6x6 x 8x3x3 + 4x6x6 x 8, then with 4 channels.
  EXPECT_EQ(result.stats["macs_before"], 288 * 36 + 288 * 72 + 144 * 8);
  EXPECT_EQ(result.stats["macs_after"], 144 * 36 + 144 * 36 + 144 * 4);
  EXPECT_EQ(shapeOf(model, "c1", 1), (V{4, 4, 3, 3}));
  EXPECT_EQ(shapeOf(model, "c1", 2), (V{4}));
  EXPECT_EQ(shapeOf(model, "c2", 1), (V{4, 4, 3, 3}));
  EXPECT_EQ(shapeOf(model, "y", 1), (V{4, 4, 1, 1}));
  const ValueType& declared = model.graph->findValue("s")->type;
  ASSERT_EQ(declared.dims.size(), 4u);
  EXPECT_EQ(declared.dims[1].value, 4) << "value_info follows the pruned channel count";
  expectSameOutputs(original, model);
}

TEST(PruneChannels, ConcatMapsIndicesWithOffsets) {
  // Concat of conv a (4 channels) and conv b (6): dead a{0,3} and b{1,2,5} = concat {0,3,5,6,9}.
  const std::set<int64_t> dead_a = {0, 3}, dead_b = {1, 2, 5}, dead_cat = {0, 3, 5, 6, 9};
  Model model = importText("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,3,5,5] x) => (float[N,2,5,5] y) <" +
                           weight("wa", {4, 3, 3, 3}, 1, onAxis(0, dead_a)) + ", " +
                           weight("wb", {6, 3, 1, 1}, 2, onAxis(0, dead_b)) + ", " +
                           weight("wc", {2, 10, 1, 1}, 3, onAxis(1, dead_cat)) + R"(> {
  a = Conv <pads = [1,1,1,1]> (x, wa)
  b = Conv (x, wb)
  cat = Concat <axis = 1> (a, b)
  r = Relu(cat)
  y = Conv (r, wc)
})");
  for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
  Model original = clone(model);
  // Default round_to=8: 5 kept of 10 rounds to 8 kept (two dead channels go).
  Model rounded = clone(model);
  PassResult rounded_result = runPass(rounded, {"prune-channels", {{"sparsity", "0.5"}}});
  EXPECT_EQ(rounded_result.stats["channels_removed"], 2);
  expectSameOutputs(original, rounded);
  PassResult result = runPass(model, {"prune-channels", {{"sparsity", "0.5"}, {"round_to", "1"}}});
  EXPECT_EQ(result.stats["channels_removed"], 5);
  EXPECT_EQ(shapeOf(model, "a", 1), (V{2, 3, 3, 3}));
  EXPECT_EQ(shapeOf(model, "b", 1), (V{3, 3, 1, 1}));
  EXPECT_EQ(shapeOf(model, "y", 1), (V{2, 5, 1, 1}));
  expectSameOutputs(original, model);
}

TEST(PruneChannels, SplitSizesFollowTheKeptChannels) {
  // conv1 (8 channels) split [3, 5]; dead channels 0 (first part) and 4, 6 (second part).
  const std::set<int64_t> dead = {0, 4, 6};
  Model model = importText("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,2,4,4] x) => (float[N,4,4,4] y) <" +
                           weight("w1", {8, 2, 1, 1}, 1, onAxis(0, dead)) + ", " +
                           weight("wa", {4, 3, 1, 1}, 2, onAxis(1, {0})) + ", " +
                           weight("wb", {4, 5, 1, 1}, 3, onAxis(1, {1, 3})) + ", int64[2] sizes = {3, 5}" + R"(> {
  c1 = Conv (x, w1)
  pa, pb = Split <axis = 1> (c1, sizes)
  ca = Conv (pa, wa)
  cb = Conv (pb, wb)
  y = Add(ca, cb)
})");
  for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
  Model original = clone(model);
  runPass(model, {"prune-channels", {{"sparsity", "0.375"}}});
  EXPECT_EQ(shapeOf(model, "c1", 1), (V{5, 2, 1, 1}));
  EXPECT_EQ(intsOf(model, "pa", 1), (V{2, 3}));
  EXPECT_EQ(shapeOf(model, "ca", 1), (V{4, 2, 1, 1}));
  EXPECT_EQ(shapeOf(model, "cb", 1), (V{4, 3, 1, 1}));
  expectSameOutputs(original, model);
}

TEST(PruneChannels, DepthwiseConvLosesInputAndOutputChannelTogether) {
  const std::set<int64_t> dead = {2, 3, 6, 7};
  Model model = importText("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,3,6,6] x) => (float[N,4,6,6] y) <" +
                           weight("w1", {8, 3, 1, 1}, 1, onAxis(0, dead)) + ", " + weight("wd", {8, 1, 3, 3}, 2) + ", " +
                           weight("bd", {8}, 3, onAxis(0, dead)) + ", " + weight("w2", {4, 8, 1, 1}, 4, onAxis(1, dead)) + R"(> {
  c1 = Conv (x, w1)
  r1 = Relu(c1)
  d = Conv <group = 8, pads = [1,1,1,1]> (r1, wd, bd)
  r2 = Clip(d)
  y = Conv (r2, w2)
})");
  for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
  Model original = clone(model);
  PassResult result = runPass(model, {"prune-channels", {{"sparsity", "0.5"}}});
  EXPECT_EQ(result.stats["groups_found"], 2) << result.stats.dump();
  EXPECT_EQ(shapeOf(model, "c1", 1), (V{4, 3, 1, 1}));
  EXPECT_EQ(shapeOf(model, "d", 1), (V{4, 1, 3, 3}));
  EXPECT_EQ(shapeOf(model, "y", 1), (V{4, 4, 1, 1}));
  for (Node* n : model.graph->nodes())
    if (n->name == "d") EXPECT_EQ(n->attrInt("group", 0), 4);
  expectSameOutputs(original, model);
}

TEST(PruneChannels, GroupedConvPrunesTheSamePositionInEveryGroup) {
  // group = 2: inputs 1 and 5 are position 1 of each input group; outputs 0 and 2 position 0 of
  // each output group. Both pairs are dead.
  Model model = importText("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,2,5,5] x) => (float[N,2,5,5] y) <" +
                           weight("w1", {8, 2, 1, 1}, 1, onAxis(0, {1, 5})) + ", " +
                           weight("wg", {4, 4, 3, 3}, 2, [](const V& i) { return i[0] % 2 == 0 || i[1] == 1; }) + ", " +
                           weight("w3", {2, 4, 1, 1}, 3, onAxis(1, {0, 2})) + R"(> {
  c1 = Conv (x, w1)
  r1 = Relu(c1)
  gc = Conv <group = 2, pads = [1,1,1,1]> (r1, wg)
  r2 = Relu(gc)
  y = Conv (r2, w3)
})");
  for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
  auto analysis = analyzeChannelGroups(model);
  ASSERT_TRUE(analysis.isOk());
  EXPECT_EQ(analysis->groups[0].channels.size(), 4u) << "8 conv channels, coupled in pairs";
  EXPECT_EQ(analysis->groups[1].channels.size(), 2u) << "4 grouped-conv outputs, coupled in pairs";
  Model original = clone(model);
  PassResult result = runPass(model, {"prune-channels", {{"sparsity", "0.34"}}});
  EXPECT_EQ(result.stats["channels_removed"], 2);
  EXPECT_EQ(shapeOf(model, "c1", 1), (V{6, 2, 1, 1}));
  EXPECT_EQ(shapeOf(model, "gc", 1), (V{2, 3, 3, 3}));
  EXPECT_EQ(shapeOf(model, "y", 1), (V{2, 2, 1, 1}));
  for (Node* n : model.graph->nodes())
    if (n->name == "gc") EXPECT_EQ(n->attrInt("group", 0), 2);
  expectSameOutputs(original, model);
}

TEST(PruneChannels, FlattenAndReshapeBeforeGemmSliceWholeChannelBlocks) {
  // 3 conv channels of 2x2 = 12 features; channel 1 is dead -> Gemm columns 4..7 go.
  const std::set<int64_t> dead = {1};
  auto deadColumns = [](const V& i) { return i[1] / 4 == 1; };
  Model model = importText("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,2,2,2] x) => (float[N,5] y, float[N,5] z) <" +
                           weight("w1", {3, 2, 1, 1}, 1, onAxis(0, dead)) + ", " + weight("b1", {3}, 2, onAxis(0, dead)) + ", " +
                           weight("wg", {5, 12}, 3, deadColumns) + ", " + weight("wh", {12, 5}, 4, [](const V& i) { return i[0] / 4 == 1; }) +
                           ", int64[2] shape = {-1, 12}" + R"(> {
  c1 = Conv (x, w1, b1)
  r = Relu(c1)
  f = Flatten(r)
  y = Gemm <transB = 1> (f, wg)
  flat = Reshape(r, shape)
  z = MatMul(flat, wh)
})");
  for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
  Model original = clone(model);
  PassResult result = runPass(model, {"prune-channels", {{"sparsity", "0.34"}}});
  EXPECT_EQ(result.stats["channels_removed"], 1);
  EXPECT_EQ(shapeOf(model, "y", 1), (V{5, 8}));
  EXPECT_EQ(shapeOf(model, "z", 1), (V{8, 5}));
  EXPECT_EQ(intsOf(model, "flat", 1), (V{-1, 8}));
  expectSameOutputs(original, model, 1e-6);
}

// Self-attention as PyTorch exports it: q/k/v projections, Reshape [B,S,H,D], Transpose, scaled
// scores, Softmax, context, Transpose back, Reshape [B,S,H*D], output projection.
std::string attentionModel(const std::set<int64_t>& dead_heads) {
  auto deadColumn = [dead_heads](const V& i) { return dead_heads.count(i[1] / 4) > 0; };
  auto deadRow = [dead_heads](const V& i) { return dead_heads.count(i[0] / 4) > 0; };
  return "<ir_version: 8, opset_import: [\"\" : 13]>\n"
         "g (float[N,3,8] x) => (float[N,3,8] y) <" +
         weight("wq", {8, 8}, 1, deadColumn) + ", " + weight("bq", {8}, 2, deadRow) + ", " + weight("wk", {8, 8}, 3, deadColumn) +
         ", " + weight("wv", {8, 8}, 4, deadColumn) + ", " + weight("bv", {8}, 5, deadRow) + ", " +
         weight("wo", {8, 8}, 6, deadRow) + ", " + weight("bo", {8}, 7) +
         ", int64[4] split_heads = {-1, 3, 2, 4}, int64[3] merge_heads = {0, 3, 8}, float scale = {0.5}" + R"(> {
  q0 = MatMul(x, wq)
  q1 = Add(bq, q0)
  q2 = Reshape(q1, split_heads)
  q = Transpose <perm = [0, 2, 1, 3]> (q2)
  k0 = MatMul(x, wk)
  k2 = Reshape(k0, split_heads)
  kt = Transpose <perm = [0, 2, 3, 1]> (k2)
  v0 = MatMul(x, wv)
  v1 = Add(v0, bv)
  v2 = Reshape(v1, split_heads)
  v = Transpose <perm = [0, 2, 1, 3]> (v2)
  s0 = MatMul(q, kt)
  s = Mul(s0, scale)
  p = Softmax <axis = -1> (s)
  c0 = MatMul(p, v)
  c1 = Transpose <perm = [0, 2, 1, 3]> (c0)
  c = Reshape(c1, merge_heads)
  o = MatMul(c, wo)
  y = Add(o, bo)
})";
}

TEST(PruneChannels, AttentionHeadsAcrossQkvAndOutputProjection) {
  Model model = importText(attentionModel({1}));
  for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
  auto analysis = analyzeChannelGroups(model);
  ASSERT_TRUE(analysis.isOk());
  int heads = 0;
  for (const ChannelGroup& g : analysis->groups)
    if (g.kind == ChannelGroup::Kind::kHead) {
      ++heads;
      EXPECT_EQ(g.channels.size(), 2u) << "two heads";
      EXPECT_EQ(g.producers.size(), 3u) << "q, k, v";
      EXPECT_TRUE(g.prunable) << g.reason;
    }
  EXPECT_EQ(heads, 1);
  Model original = clone(model);
  PassResult result = runPass(model, {"prune-channels", {{"sparsity", "0.5"}, {"granularity", "head"}}});
  EXPECT_EQ(result.stats["channels_removed"], 1);
  EXPECT_EQ(shapeOf(model, "q0", 1), (V{8, 4}));
  EXPECT_EQ(shapeOf(model, "k0", 1), (V{8, 4}));
  EXPECT_EQ(shapeOf(model, "v0", 1), (V{8, 4}));
  EXPECT_EQ(shapeOf(model, "o", 1), (V{4, 8}));
  EXPECT_EQ(intsOf(model, "q2", 1), (V{-1, 3, 1, 4}));
  EXPECT_EQ(intsOf(model, "c", 1), (V{0, 3, 4}));
  expectSameOutputs(original, model, 1e-6);
  // Neuron granularity leaves attention projections alone: their outputs are whole heads.
  Model again = importText(attentionModel({}));
  PassResult neurons = runPass(again, {"prune-channels", {{"sparsity", "0.5"}, {"granularity", "neuron"}}});
  EXPECT_EQ(neurons.stats["channels_removed"], 0);
}

TEST(PruneChannels, BranchFeedingTwoConsumersSlicesBoth) {
  const std::set<int64_t> dead = {0, 1, 2};
  Model model = importText("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,2,4,4] x) => (float[N,4,4,4] ya, float[N,4,2,2] yb) <" +
                           weight("w1", {6, 2, 1, 1}, 1, onAxis(0, dead)) + ", " + weight("wa", {4, 6, 1, 1}, 2, onAxis(1, dead)) +
                           ", " + weight("wb", {4, 6, 3, 3}, 3, onAxis(1, dead)) + R"(> {
  c1 = Conv (x, w1)
  r = Relu(c1)
  ya = Conv (r, wa)
  m = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (r)
  yb = Conv <pads = [1,1,1,1]> (m, wb)
})");
  for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
  Model original = clone(model);
  runPass(model, {"prune-channels", {{"sparsity", "0.5"}}});
  EXPECT_EQ(shapeOf(model, "c1", 1), (V{3, 2, 1, 1}));
  EXPECT_EQ(shapeOf(model, "ya", 1), (V{4, 3, 1, 1}));
  EXPECT_EQ(shapeOf(model, "yb", 1), (V{4, 3, 3, 3}));
  expectSameOutputs(original, model);
}

TEST(PruneChannels, UnknownUseAndSharedConstantsStaySafe) {
  // TopK on the conv output is not understood: that group must not be touched. The second
  // group's conv shares its bias constant with an unrelated Add: the Add keeps the original.
  Model model = importText("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,2,3,3] x) => (float[N,4,3,3] y, float[N,4,3,3] t, float[4] e) <" +
                           weight("w1", {4, 2, 1, 1}, 1) + ", " + weight("w2", {4, 2, 1, 1}, 2) + ", " +
                           weight("w3", {4, 4, 1, 1}, 3) + ", " + weight("b", {4}, 4) + ", int64[1] k = {4}" + R"(> {
  c1 = Conv (x, w1)
  t, ti = TopK <axis = 1> (c1, k)
  c2 = Conv (x, w2, b)
  r = Relu(c2)
  y = Conv (r, w3)
  e = Add(b, b)
})");
  for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
  auto analysis = analyzeChannelGroups(model);
  ASSERT_TRUE(analysis.isOk());
  EXPECT_FALSE(analysis->groups[0].prunable);
  EXPECT_NE(analysis->groups[0].reason.find("TopK"), std::string::npos) << analysis->groups[0].reason;
  Model original = clone(model);
  PassResult dry = runPass(model, {"prune-channels", {{"sparsity", "0.5"}, {"dry_run", "true"}}});
  EXPECT_FALSE(dry.changed);
  EXPECT_EQ(dry.stats["channels_removed"], 2);
  EXPECT_EQ(dry.stats["groups"][1]["removed"].size(), 2u);
  EXPECT_EQ(dry.stats["groups"][0]["reason"].get<std::string>().find("used by"), 0u);
  EXPECT_EQ(shapeOf(model, "c2", 1), (V{4, 2, 1, 1})) << "dry run changes nothing";
  runPass(model, {"prune-channels", {{"sparsity", "0.5"}}});
  EXPECT_EQ(shapeOf(model, "c1", 1), (V{4, 2, 1, 1}));
  EXPECT_EQ(shapeOf(model, "c2", 1), (V{2, 2, 1, 1}));
  EXPECT_EQ(shapeOf(model, "c2", 2), (V{2}));
  EXPECT_EQ(shapeOf(model, "e", 0), (V{4}));
  EXPECT_EQ(checkModel(model).result, CheckResult::kValid) << checkModel(model).message;
  std::vector<Tensor> a = runModel(original, 3), b = runModel(model, 3);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(a[1].shape, b[1].shape);
  EXPECT_EQ(std::memcmp(a[1].bytes(), b[1].bytes(), a[1].byteSize()), 0) << "the TopK branch is untouched";
}

TEST(PruneChannels, GlobalScopeTakesFromTheWeakGroupLayerScopeFromEach) {
  // Group A (c1) has four dead channels; group B (c2) has none. Removing 4 of 16 channels:
  // global ranks normalized importance, so all four come from A; layer takes 2 from each.
  const std::set<int64_t> dead = {0, 1, 2, 3};
  const std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,2,3,3] x) => (float[N,2,3,3] y) <" +
                           weight("w1", {8, 2, 1, 1}, 1, onAxis(0, dead)) + ", " + weight("w2", {8, 8, 1, 1}, 2, onAxis(1, dead)) +
                           ", " + weight("w3", {2, 8, 1, 1}, 3) + R"(> {
  c1 = Conv (x, w1)
  r1 = Relu(c1)
  c2 = Conv (r1, w2)
  r2 = Relu(c2)
  y = Conv (r2, w3)
})";
  for (const char* scope : {"global", "layer"}) {
    SCOPED_TRACE(scope);
    Model model = importText(text);
    for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
    PassResult result = runPass(model, {"prune-channels", {{"sparsity", "0.25"}, {"scope", scope}, {"round_to", "1"}}});
    EXPECT_EQ(result.stats["channels_removed"], 4);
    const bool global = std::string(scope) == "global";
    EXPECT_EQ(shapeOf(model, "c1", 1), (V{global ? 4 : 6, 2, 1, 1}));
    EXPECT_EQ(shapeOf(model, "c2", 1), (V{global ? 8 : 6, global ? 4 : 6, 1, 1}));
    EXPECT_EQ(shapeOf(model, "y", 1), (V{2, global ? 8 : 6, 1, 1}));
  }
}

TEST(PruneChannels, ImportanceExcludeAndMinChannels) {
  // Conv rows 0 and 3 are zero (smallest L1); BN scales 1 and 2 are zero (smallest bn-scale).
  const std::string text = "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                           "g (float[N,2,3,3] x) => (float[N,2,3,3] y) <" +
                           weight("w1", {4, 2, 1, 1}, 1, onAxis(0, {0, 3})) + ", " + weight("gamma", {4}, 2, onAxis(0, {1, 2})) +
                           ", " + weight("beta", {4}, 3) + ", " + weight("mean", {4}, 4) +
                           ", float[4] var = {1.0, 2.0, 3.0, 4.0}, " + weight("w2", {2, 4, 1, 1}, 5) + R"(> {
  c1 = Conv (x, w1)
  bn = BatchNormalization (c1, gamma, beta, mean, var)
  r = Relu(bn)
  y = Conv (r, w2)
})";
  auto prune = [&](std::map<std::string, std::string> options) {
    Model model = importText(text);
    for (Node* n : model.graph->nodes()) n->name = n->output(0)->name();
    options["sparsity"] = "0.5";
    runPass(model, {"prune-channels", options});
    std::vector<float> gamma;
    for (Node* n : model.graph->nodes())
      if (n->op_type == "BatchNormalization") {
        const Tensor& t = constantRefOf(n->input(1))->tensor();
        gamma.assign(t.dataAs<float>(), t.dataAs<float>() + t.elementCount());
      }
    return gamma;
  };
  auto zeros = [](const std::vector<float>& v) { return std::count(v.begin(), v.end(), 0.0f); };
  std::vector<float> l1 = prune({{"importance", "l1"}}), l2 = prune({{"importance", "l2"}}), bn = prune({{"importance", "bn-scale"}});
  ASSERT_EQ(l1.size(), 2u);
  EXPECT_EQ(zeros(l1), 2) << "l1 removed the zero-weight channels 0 and 3";
  EXPECT_EQ(zeros(l2), 2);
  ASSERT_EQ(bn.size(), 2u);
  EXPECT_EQ(zeros(bn), 0) << "bn-scale removed the zero-scale channels 1 and 2";
  EXPECT_EQ(prune({{"exclude", "other+c1"}}).size(), 4u) << "c1 matches an exclude pattern";
  EXPECT_EQ(prune({{"exclude", "Conv"}}).size(), 4u) << "op types match too";
  EXPECT_EQ(prune({{"exclude", "c[2-9]"}}).size(), 2u);
  EXPECT_EQ(prune({{"min_channels", "3"}}).size(), 3u);
}

TEST(PruneChannels, SameInputSameBytes) {
  auto once = [] {
    auto model = loadModel(test::sourceDir() + "/models/resnet_small.onnx");
    runPass(*model, {"prune-channels", {{"sparsity", "0.3"}}});
    return *serializeModel(*model);
  };
  EXPECT_EQ(once(), once());
}

TEST(PruneChannels, OptionsAreChecked) {
  EXPECT_FALSE(createPass({"prune-channels", {}}).isOk()) << "sparsity is required";
  EXPECT_FALSE(createPass({"prune-channels", {{"sparsity", "1.5"}}}).isOk());
  EXPECT_FALSE(createPass({"prune-channels", {{"sparsity", "0.5"}, {"granularity", "weight"}}}).isOk());
  EXPECT_FALSE(createPass({"prune-channels", {{"sparsity", "0.5"}, {"importance", "taylor"}}}).isOk());
  EXPECT_FALSE(createPass({"prune-channels", {{"sparsity", "0.5"}, {"min_channels", "-1"}}}).isOk());
  EXPECT_FALSE(createPass({"prune-channels", {{"sparsity", "0.5"}, {"bogus", "1"}}}).isOk());
  EXPECT_FALSE(createPass({"prune-channels", {{"sparsity", "0.5"}, {"round_to", "0"}}}).isOk());
}

// The bundled models: pruned at 50% with the granularity that fits, they must stay valid, run,
// keep their output shape, and really lose parameters. Set NNC_PRUNED_DIR to keep the files.
struct BundledCase {
  const char* model;
  const char* granularity;
};
void PrintTo(const BundledCase& c, std::ostream* os) { *os << c.model << " " << c.granularity; }

class PruneBundled : public ::testing::TestWithParam<BundledCase> {};

TEST_P(PruneBundled, PrunedModelIsValidSmallerAndRuns) {
  const BundledCase c = GetParam();
  auto loaded = loadModel(test::sourceDir() + "/models/" + c.model + ".onnx");
  ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
  Model model = std::move(loaded).value();
  Model original = clone(model);
  PassResult result = runPass(model, {"prune-channels", {{"sparsity", "0.5"}, {"granularity", c.granularity}}});
  ASSERT_TRUE(result.changed) << result.summary;
  EXPECT_LT(result.stats["params_after"].get<int64_t>(), result.stats["params_before"].get<int64_t>());
  EXPECT_GT(result.stats["channels_removed"].get<int64_t>(), 0);
  CheckReport check = checkModel(model);
  EXPECT_EQ(check.result, CheckResult::kValid) << check.message;
  std::vector<Tensor> a = runModel(original, 5, 3), b = runModel(model, 5, 3);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a[0].shape, b[0].shape);
  if (const char* dir = std::getenv("NNC_PRUNED_DIR")) {
    SaveOptions save;
    save.overwrite = true;
    auto saved = saveModel(model, std::string(dir) + "/" + c.model + "_" + c.granularity + "_0.5.onnx", save);
    EXPECT_TRUE(saved.isOk()) << saved.status().message();
  }
}

// End to end with trained weights: the pruned CNN must compute what the original computes when
// the removed channels are silenced there (BN scale and shift set to 0, so the channel carries
// exact zeros through ReLU/Clip, residual Adds, pooling and into every consumer).
TEST(PruneBundledMasked, PrunedCnnEqualsOriginalWithChannelsSilenced) {
  for (const char* name : {"cnn_bn", "resnet_small", "mobilenet_small"}) {
    SCOPED_TRACE(name);
    auto loaded = loadModel(test::sourceDir() + "/models/" + name + ".onnx");
    ASSERT_TRUE(loaded.isOk());
    Model model = std::move(loaded).value();
    Model masked = clone(model);
    PassResult result = runPass(model, {"prune-channels", {{"sparsity", "0.4"}, {"scope", "layer"}, {"round_to", "1"}}});
    ASSERT_GT(result.stats["channels_removed"].get<int64_t>(), 0);
    auto analysis = analyzeChannelGroups(masked);
    ASSERT_TRUE(analysis.isOk());
    std::vector<char> removed(analysis->channel_count, 0);
    for (const auto& g : result.stats["groups"])
      for (const auto& i : g["removed"]) removed[analysis->groups[g["id"].get<size_t>()].channels[i.get<size_t>()]] = 1;
    int silenced = 0;
    for (const ChannelSlice& slice : analysis->slices) {
      if (slice.node->op_type != "BatchNormalization" || (slice.input != 1 && slice.input != 2)) continue;
      auto ref = constantRefOf(slice.node->input(slice.input));
      std::vector<float> values(ref->tensor().dataAs<float>(), ref->tensor().dataAs<float>() + ref->tensor().elementCount());
      for (size_t k = 0; k < values.size(); ++k)
        if (removed[slice.channels[k]]) values[k] = 0.0f, ++silenced;
      ref->replace(Tensor::fromValues(DType::kFloat, ref->tensor().shape, values));
    }
    EXPECT_GT(silenced, 0);
    expectSameOutputs(masked, model, 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PruneBundled,
                         ::testing::Values(BundledCase{"cnn_bn", "channel"}, BundledCase{"resnet_small", "channel"},
                                           BundledCase{"mobilenet_small", "channel"}, BundledCase{"mlp", "neuron"},
                                           BundledCase{"tiny_transformer", "head"}, BundledCase{"tiny_transformer", "neuron"}),
                         [](const auto& info) { return std::string(info.param.model) + "_" + info.param.granularity; });

}  // namespace
}  // namespace nnc

// Every op backward against central finite differences: a one-node model whose inputs are
// initializers (so the tape treats them as parameters), the scalar loss L = sum(R * y) with a
// seeded random R, analytic dL/dx from the tape versus (L(x + e) - L(x - e)) / 2e evaluated
// in double from float32 forward runs of the runtime.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "nncompress/train/tape.h"

namespace nnc::train {
namespace {

Tensor randomTensor(std::vector<int64_t> shape, std::mt19937& rng, float lo = -1, float hi = 1, bool away_from_zero = false) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(static_cast<size_t>(n));
  for (float& v : values) {
    v = dist(rng);
    // Kinks (Relu at 0) make finite differences meaningless within eps of them.
    if (away_from_zero && std::fabs(v) < 0.05f) v = v < 0 ? -0.05f - v : 0.05f + v;
  }
  return Tensor::fromValues(DType::kFloat, std::move(shape), values);
}

// Attributes are move-only; cases list these copyable specs instead.
struct AttrSpec {
  std::string name;
  AttrType type = AttrType::kInt;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
};
AttrSpec intAttr(const std::string& name, int64_t v) { return {name, AttrType::kInt, v, 0, {}}; }
AttrSpec floatAttr(const std::string& name, float v) { return {name, AttrType::kFloat, 0, v, {}}; }
AttrSpec intsAttr(const std::string& name, std::vector<int64_t> v) { return {name, AttrType::kInts, 0, 0, std::move(v)}; }

struct OpCase {
  std::string op;
  std::vector<Tensor> inputs;
  std::vector<AttrSpec> attrs;
  std::vector<size_t> checked;  // inputs whose gradient is compared
  int64_t opset = 13;
};

// Builds the one-node model; returns it with the output value.
std::unique_ptr<Model> buildModel(OpCase& c) {
  auto model = std::make_unique<Model>();
  model->opset_imports = {{"", c.opset}};
  Graph& g = *model->graph;
  Node* node = g.appendNode(c.op);
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Value* v = *g.addNamedValue("x" + std::to_string(i));
    g.setInitializer(v, c.inputs[i]);
    g.appendNodeInput(node, v);
  }
  Value* y = *g.addNamedValue("y");
  g.appendNodeOutput(node, y);
  g.addOutput(y);
  for (const AttrSpec& spec : c.attrs) {
    Attribute a;
    a.name = spec.name;
    a.type = spec.type;
    a.i = spec.i;
    a.f = spec.f;
    a.ints = spec.ints;
    node->attributes.push_back(std::move(a));
  }
  return model;
}

double lossOf(const Session& session, const Tensor& r) {
  auto out = session.run({});
  EXPECT_TRUE(out.isOk()) << out.status().message();
  const float* y = (*out)[0].dataAs<float>();
  double sum = 0;
  for (int64_t i = 0; i < r.elementCount(); ++i) sum += static_cast<double>(y[i]) * r.dataAs<float>()[i];
  return sum;
}

void checkGradients(OpCase c) {
  SCOPED_TRACE(c.op);
  auto model = buildModel(c);
  auto session = Session::create(*model, {1, nullptr});  // one thread: no OpenMP start-up per tiny run
  ASSERT_TRUE(session.isOk()) << session.status().message();
  auto tape = Tape::record(**session, {});
  ASSERT_TRUE(tape.isOk()) << tape.status().message();
  std::mt19937 rng(7);
  const Tensor r = randomTensor(tape->outputs()[0].shape, rng);
  Grad seed;
  seed.shape = r.shape;
  seed.data.assign(r.dataAs<float>(), r.dataAs<float>() + r.elementCount());
  Graph& g = *model->graph;
  std::vector<const Value*> params;
  for (size_t i = 0; i < c.inputs.size(); ++i) params.push_back(g.findValue("x" + std::to_string(i)));
  auto grads = tape->backward({{g.outputs()[0], seed}}, params);
  ASSERT_TRUE(grads.isOk()) << grads.status().message();

  const double eps = 1e-3;
  for (size_t k : c.checked) {
    SCOPED_TRACE("input " + std::to_string(k));
    ASSERT_TRUE((*grads)[k].has_value());
    const Grad& analytic = *(*grads)[k];
    ASSERT_EQ(analytic.shape, c.inputs[k].shape);
    Value* v = g.findValue("x" + std::to_string(k));
    const Tensor original = *v->initializer();
    const int64_t n = original.elementCount();
    // Every element of small tensors, a seeded sample of larger ones.
    std::vector<int64_t> elements;
    for (int64_t i = 0; i < n; ++i) elements.push_back(i);
    if (n > 48) {
      std::shuffle(elements.begin(), elements.end(), rng);
      elements.resize(48);
    }
    for (int64_t i : elements) {
      std::vector<float> values(original.dataAs<float>(), original.dataAs<float>() + n);
      values[static_cast<size_t>(i)] = static_cast<float>(original.dataAs<float>()[i] + eps);
      g.replaceInitializer(v, Tensor::fromValues(DType::kFloat, original.shape, values));
      const double plus = lossOf(**session, r);
      values[static_cast<size_t>(i)] = static_cast<float>(original.dataAs<float>()[i] - eps);
      g.replaceInitializer(v, Tensor::fromValues(DType::kFloat, original.shape, values));
      const double minus = lossOf(**session, r);
      const double numeric = (plus - minus) / (2 * eps);
      EXPECT_NEAR(analytic.data[static_cast<size_t>(i)], numeric, 5e-3 + 5e-3 * std::fabs(numeric)) << "element " << i;
    }
    g.replaceInitializer(v, original);
  }
}

class BackwardTest : public ::testing::Test {
 protected:
  std::mt19937 rng{42};
  Tensor rnd(std::vector<int64_t> shape) { return randomTensor(std::move(shape), rng); }
};

TEST_F(BackwardTest, GemmAllTransposeCombinations) {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      OpCase c{"Gemm", {rnd(ta ? std::vector<int64_t>{4, 3} : std::vector<int64_t>{3, 4}),
                        rnd(tb ? std::vector<int64_t>{5, 4} : std::vector<int64_t>{4, 5}), rnd({5})},
               {}, {0, 1, 2}};
      c.attrs.push_back(intAttr("transA", ta));
      c.attrs.push_back(intAttr("transB", tb));
      c.attrs.push_back(floatAttr("alpha", 0.7f));
      c.attrs.push_back(floatAttr("beta", 1.3f));
      checkGradients(std::move(c));
    }
}

TEST_F(BackwardTest, GemmBiasBroadcastAlongColumns) {
  checkGradients({"Gemm", {rnd({3, 4}), rnd({4, 2}), rnd({3, 1})}, {}, {0, 1, 2}});
}

TEST_F(BackwardTest, MatMulBatchedAndShared) {
  checkGradients({"MatMul", {rnd({2, 3, 4}), rnd({4, 5})}, {}, {0, 1}});
  checkGradients({"MatMul", {rnd({2, 3, 4}), rnd({2, 4, 5})}, {}, {0, 1}});
  checkGradients({"MatMul", {rnd({3, 4}), rnd({2, 4, 5})}, {}, {0, 1}});
  checkGradients({"MatMul", {rnd({3, 4}), rnd({4, 2})}, {}, {0, 1}});
}

TEST_F(BackwardTest, BinaryOpsWithBroadcasting) {
  checkGradients({"Add", {rnd({2, 3, 4}), rnd({4})}, {}, {0, 1}});
  checkGradients({"Sub", {rnd({2, 1, 4}), rnd({3, 1})}, {}, {0, 1}});
  checkGradients({"Mul", {rnd({2, 3}), rnd({2, 3})}, {}, {0, 1}});
  checkGradients({"Mul", {rnd({1, 1, 1, 1}), rnd({2, 3, 2, 2})}, {}, {0, 1}});
  checkGradients({"Div", {rnd({2, 3, 4}), randomTensor({1, 3, 1}, rng, 0.5f, 2.0f)}, {}, {0, 1}});
}

TEST_F(BackwardTest, ReluAndClip) {
  checkGradients({"Relu", {randomTensor({3, 5}, rng, -1, 1, true)}, {}, {0}});
  // ReLU6-style Clip with bounds as inputs (opset 13) and as attributes (opset 6).
  Tensor lo = Tensor::fromValues(DType::kFloat, {}, std::vector<float>{-0.5f});
  Tensor hi = Tensor::fromValues(DType::kFloat, {}, std::vector<float>{0.5f});
  checkGradients({"Clip", {randomTensor({4, 6}, rng, -1, 1, true), lo, hi}, {}, {0}});
  OpCase old{"Clip", {randomTensor({4, 6}, rng, -1, 1, true)}, {floatAttr("min", -0.5f), floatAttr("max", 0.5f)}, {0}, 6};
  checkGradients(std::move(old));
}

TEST_F(BackwardTest, SoftmaxAndLogSoftmax) {
  checkGradients({"Softmax", {rnd({2, 3, 4})}, {intAttr("axis", 1)}, {0}});
  checkGradients({"Softmax", {rnd({2, 5})}, {}, {0}});
  checkGradients({"LogSoftmax", {rnd({2, 3, 4})}, {intAttr("axis", -1)}, {0}});
  // Opset 11: the input is coerced to 2-D at the axis.
  checkGradients({"Softmax", {rnd({2, 3, 4})}, {intAttr("axis", 1)}, {0}, 11});
  checkGradients({"LogSoftmax", {rnd({2, 3, 4})}, {intAttr("axis", 1)}, {0}, 11});
}

TEST_F(BackwardTest, ShapeOps) {
  checkGradients({"Flatten", {rnd({2, 3, 4})}, {intAttr("axis", 2)}, {0}});
  Tensor shape = Tensor::fromValues(DType::kInt64, {2}, std::vector<int64_t>{4, 6});
  checkGradients({"Reshape", {rnd({2, 3, 4}), shape}, {}, {0}});
  checkGradients({"Identity", {rnd({3, 2})}, {}, {0}});
  checkGradients({"Transpose", {rnd({2, 3, 4})}, {intsAttr("perm", {1, 2, 0})}, {0}});
  checkGradients({"Transpose", {rnd({2, 3})}, {}, {0}});
  checkGradients({"Concat", {rnd({2, 3, 2}), rnd({2, 1, 2}), rnd({2, 2, 2})}, {intAttr("axis", 1)}, {0, 1, 2}});
  checkGradients({"Concat", {rnd({2, 3}), rnd({2, 2})}, {intAttr("axis", -1)}, {0, 1}});
}

TEST_F(BackwardTest, ConvWithPadsStridesDilationsAndGroups) {
  checkGradients({"Conv", {rnd({2, 3, 5, 5}), rnd({4, 3, 3, 3}), rnd({4})}, {intsAttr("pads", {1, 1, 1, 1})}, {0, 1, 2}});
  checkGradients({"Conv", {rnd({1, 2, 6, 5}), rnd({3, 2, 2, 3})}, {intsAttr("strides", {2, 1}), intsAttr("pads", {0, 1, 1, 0})}, {0, 1}});
  checkGradients({"Conv", {rnd({1, 2, 7, 7}), rnd({2, 2, 3, 3})}, {intsAttr("dilations", {2, 2})}, {0, 1}});
  // Depthwise: group = channels, one input channel per filter.
  checkGradients({"Conv", {rnd({2, 3, 5, 5}), rnd({3, 1, 3, 3}), rnd({3})}, {intAttr("group", 3), intsAttr("pads", {1, 1, 1, 1})}, {0, 1, 2}});
  // Grouped with two filters per group.
  checkGradients({"Conv", {rnd({1, 4, 4, 4}), rnd({4, 2, 1, 1})}, {intAttr("group", 2)}, {0, 1}});
}

TEST_F(BackwardTest, Pooling) {
  checkGradients({"MaxPool", {rnd({2, 2, 6, 6})}, {intsAttr("kernel_shape", {2, 2}), intsAttr("strides", {2, 2})}, {0}});
  checkGradients({"MaxPool", {rnd({1, 2, 5, 5})}, {intsAttr("kernel_shape", {3, 3}), intsAttr("pads", {1, 1, 1, 1})}, {0}});
  checkGradients({"AveragePool", {rnd({1, 2, 5, 5})},
                  {intsAttr("kernel_shape", {3, 3}), intsAttr("strides", {2, 2}), intsAttr("pads", {1, 1, 1, 1})}, {0}});
  checkGradients({"AveragePool", {rnd({1, 2, 5, 5})},
                  {intsAttr("kernel_shape", {3, 3}), intsAttr("strides", {2, 2}), intsAttr("pads", {1, 1, 1, 1}),
                   intAttr("count_include_pad", 1)},
                  {0}});
  checkGradients({"GlobalAveragePool", {rnd({2, 3, 4, 4})}, {}, {0}});
}

TEST_F(BackwardTest, BatchNormalizationWithRunningStatistics) {
  checkGradients({"BatchNormalization",
                  {rnd({2, 3, 4, 4}), rnd({3}), rnd({3}), rnd({3}), randomTensor({3}, rng, 0.5f, 2.0f)},
                  {floatAttr("epsilon", 1e-3f)},
                  {0, 1, 2}});
}

TEST_F(BackwardTest, MissingBackwardIsUnsupportedNamingTheOp) {
  OpCase c{"Exp", {rnd({2, 2})}, {}, {0}};
  auto model = buildModel(c);
  auto session = Session::create(*model, {1, nullptr});  // one thread: no OpenMP start-up per tiny run
  ASSERT_TRUE(session.isOk());
  auto tape = Tape::record(**session, {});
  ASSERT_TRUE(tape.isOk());
  Grad seed = Grad::zeros({2, 2});
  auto grads = tape->backward({{model->graph->outputs()[0], seed}}, {model->graph->findValue("x0")});
  ASSERT_FALSE(grads.isOk());
  EXPECT_EQ(grads.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(grads.status().message().find("Exp"), std::string::npos);
}

TEST(BroadcastTest, ReduceToShapeSumsBroadcastAxes) {
  // [2,3] gradient of a [1,3] input: column sums.
  Grad g = reduceToShape({1, 2, 3, 10, 20, 30}, {2, 3}, {1, 3});
  EXPECT_EQ(g.data, (std::vector<float>{11, 22, 33}));
  Grad rows = reduceToShape({1, 2, 3, 10, 20, 30}, {2, 3}, {2, 1});
  EXPECT_EQ(rows.data, (std::vector<float>{6, 60}));
  Grad scalar = reduceToShape({1, 2, 3, 10, 20, 30}, {2, 3}, {});
  EXPECT_EQ(scalar.data, (std::vector<float>{66}));
}

}  // namespace
}  // namespace nnc::train

// IR structure after import: producers, uses, outer-scope references, editing, constants.
#include <gtest/gtest.h>

#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "test_util.h"

namespace nnc {
namespace {

using test::importText;

constexpr const char* kIfModel = R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2] x, bool c) => (float[2] y) <float[2] w = {1.0, 2.0}> {
  k = Constant <value = float[2] {3.0, 4.0}> ()
  a = Add(x, w)
  y = If (c) <
    then_branch = t () => (float[2] r) { b = Constant <value = float[2] {5.0, 6.0}> () r = Mul(a, b) },
    else_branch = e () => (float[2] r) { r = Sub(a, k) }>
}
)";

TEST(Graph, ProducersUsesAndOuterScope) {
  Model model = importText(kIfModel);
  Graph& g = *model.graph;
  ASSERT_EQ(g.nodeCount(), 3u);
  Value* a = g.findValue("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->producer()->op_type, "Add");
  // Used by the Mul in then_branch and the Sub in else_branch: one Value, three graphs.
  ASSERT_EQ(a->uses().size(), 2u);
  EXPECT_EQ(a->uses()[0].node->op_type, "Mul");
  EXPECT_NE(a->uses()[0].node->graph(), &g);
  EXPECT_EQ(a->uses()[0].node->graph()->parent(), &g);
  EXPECT_EQ(g.findValue("w")->initializer()->elementCount(), 2);
}

TEST(Graph, ForEachConstantFindsInitializersConstantsAndBranches) {
  Model model = importText(kIfModel);
  std::vector<std::string> found;
  forEachConstant(*model.graph, [&](const ConstantRef& c) { found.push_back(c.value->name()); });
  EXPECT_EQ(found, (std::vector<std::string>{"w", "k", "b"}));
  // Replace the constant inside the then-branch and see it in the export.
  forEachConstant(*model.graph, [&](const ConstantRef& c) {
    if (c.value->name() == "b") c.replace(Tensor::fromValues<float>(DType::kFloat, {2}, {7.0f, 8.0f}));
  });
  onnx::ModelProto proto;
  exportModel(model, &proto);
  const auto& then_const = proto.graph().node(2).attribute(0).g().node(0).attribute(0).t();
  EXPECT_EQ(then_const.raw_data().size(), 8u);
  float values[2];
  std::memcpy(values, then_const.raw_data().data(), 8);
  EXPECT_EQ(values[0], 7.0f);
}

TEST(Graph, TopologicalOrderHandlesUnsortedNodes) {
  onnx::ModelProto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2] x) => (float[2] z) { z = Relu(y) y = Neg(x) }
)");
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk()) << model.status().message();
  auto order = model->graph->topologicalOrder();
  ASSERT_TRUE(order.isOk());
  EXPECT_EQ((*order)[0]->op_type, "Neg");
  EXPECT_EQ((*order)[1]->op_type, "Relu");
  // The stored order is kept for export.
  EXPECT_EQ(model->graph->nodes()[0]->op_type, "Relu");
}

TEST(Graph, EditingKeepsUseListsConsistent) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2] x) => (float[2] z) { y = Identity(x) z = Relu(y) }
)");
  Graph& g = *model.graph;
  Value* x = g.findValue("x");
  Value* y = g.findValue("y");
  Node* identity = y->producer();
  g.replaceAllUsesWith(y, x);
  EXPECT_TRUE(y->uses().empty());
  EXPECT_EQ(x->uses().size(), 2u);
  g.eraseNode(identity);
  g.eraseValue(y);
  EXPECT_EQ(g.nodeCount(), 1u);
  EXPECT_EQ(x->uses().size(), 1u);
  EXPECT_EQ(g.nodes()[0]->input(0), x);
  // New names never collide.
  Value* fresh = g.addValue("x");
  EXPECT_NE(fresh->name(), "x");
}

TEST(Graph, OptionalInputsAndOutputsStayEmpty) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,1,4,4] x) => (float[1,1,2,2] y) { y, = MaxPool <kernel_shape = [2, 2], strides = [2, 2]> (x) z = Clip(x, , ) }
)");
  Node* pool = model.graph->nodes()[0];
  ASSERT_EQ(pool->outputs().size(), 2u);
  EXPECT_EQ(pool->output(1), nullptr);
  Node* clip = model.graph->nodes()[1];
  ASSERT_EQ(clip->inputs().size(), 3u);
  EXPECT_EQ(clip->input(1), nullptr);
}

}  // namespace
}  // namespace nnc

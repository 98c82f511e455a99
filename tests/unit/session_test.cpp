// Session: execution order, observer, missing kernels reported at once, input checks,
// float16 computed in float32 and rounded back, subgraph outputs and outer-value lifetimes.
#include <gtest/gtest.h>

#include "nncompress/ir/half.h"
#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

using test::importText;

TEST(Session, RunsUnsortedGraphAndObservesIntermediates) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[3] x) => (float[3] z) <float[3] w = {1.0, -2.0, 3.0}> { z = Relu(y) y = Mul(x, w) }
)");
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  std::vector<std::string> seen;
  ValueObserver observer = [&](const Value& v, const Tensor&) { seen.push_back(v.name()); };
  auto out = (*session)->run({{"x", Tensor::fromValues<float>(DType::kFloat, {3}, {2.0f, 2.0f, -1.0f})}}, &observer);
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const float* z = (*out)[0].dataAs<float>();
  EXPECT_EQ(z[0], 2.0f);
  EXPECT_EQ(z[1], 0.0f);
  EXPECT_EQ(z[2], 0.0f);
  EXPECT_EQ(seen, (std::vector<std::string>{"y", "z"}));
}

// Constant nodes are evaluated once when the session is planned; every run (and every If branch
// run) must still see their values, and the observer must still see them as computed values.
TEST(Session, ConstantNodesFoldedAtPlanningKeepTheirValuesAcrossRuns) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2] x, bool c) => (float[2] z) {
  k = Constant<value = float[2] {10.0, 20.0}>()
  y = Add(x, k)
  z = If(c) <then_branch = t () => (float[2] a) { m = Constant<value = float[2] {2.0, 3.0}>() a = Mul(y, m) },
             else_branch = e () => (float[2] b) { b = Identity(y) }>
}
)");
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  for (int run = 0; run < 3; ++run) {
    const bool take = run != 1;
    std::vector<std::pair<std::string, float>> seen;
    ValueObserver observer = [&](const Value& v, const Tensor& t) { seen.emplace_back(v.name(), t.dataAs<float>()[0]); };
    auto out = (*session)->run({{"x", Tensor::fromValues<float>(DType::kFloat, {2}, {1.0f, float(run)})},
                                {"c", Tensor::fromValues<uint8_t>(DType::kBool, {}, {static_cast<uint8_t>(take)})}},
                               &observer);
    ASSERT_TRUE(out.isOk()) << out.status().message();
    const float* z = (*out)[0].dataAs<float>();
    EXPECT_EQ(z[0], take ? 22.0f : 11.0f) << "run " << run;
    EXPECT_EQ(z[1], take ? (20.0f + run) * 3.0f : 20.0f + run) << "run " << run;
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen[0], (std::pair<std::string, float>{"k", 10.0f}));
  }
}

TEST(Session, ListsEveryMissingKernelAtOnce) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17, "custom" : 1]>
g (float[3] x) => (float[3] z) { y = custom.Frob(x) z = custom.Blarg(y) w = custom.Frob(z) }
)");
  auto session = Session::create(model);
  ASSERT_FALSE(session.isOk());
  EXPECT_EQ(session.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(session.status().message().find("2 op(s): custom.Frob (opset 1), custom.Blarg (opset 1)"), std::string::npos)
      << session.status().message();
}

TEST(Session, ChecksInputs) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2,N] x) => (float[2,N] y) { y = Relu(x) }
)");
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk());
  auto wrong_type = (*session)->run({{"x", Tensor::fromValues<int64_t>(DType::kInt64, {2, 1}, {1, 2})}});
  EXPECT_NE(wrong_type.status().message().find("must be float"), std::string::npos);
  auto wrong_shape = (*session)->run({{"x", Tensor::fromValues<float>(DType::kFloat, {3, 1}, {1, 2, 3})}});
  EXPECT_NE(wrong_shape.status().message().find("must have shape [2,N], got [3,1]"), std::string::npos);
  auto missing = (*session)->run({});
  EXPECT_NE(missing.status().message().find("input 'x' is missing"), std::string::npos);
  auto unknown = (*session)->run({{"q", Tensor()}});
  EXPECT_NE(unknown.status().message().find("no input named 'q'"), std::string::npos);
  auto ok = (*session)->run({{"x", Tensor::fromValues<float>(DType::kFloat, {2, 2}, {1, -2, 3, -4})}});
  EXPECT_TRUE(ok.isOk());
}

TEST(Session, Float16ComputesInFloat32AndRoundsBack) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float16[2] a, float16[2] b) => (float16[2] c) { c = Add(a, b) }
)");
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk());
  // 1 + 2^-11 is exactly between two float16 values: float32 sum, then round to even -> 1.
  // 2048 + 1 rounds to 2048 (even), 2048 + 3 to 2052.
  auto a = Tensor::fromValues<uint16_t>(DType::kFloat16, {2}, {floatToHalf(1.0f), floatToHalf(2048.0f)});
  auto b = Tensor::fromValues<uint16_t>(DType::kFloat16, {2}, {floatToHalf(0.00048828125f), floatToHalf(3.0f)});
  auto out = (*session)->run({{"a", a}, {"b", b}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].dtype, DType::kFloat16);
  EXPECT_EQ(halfToFloat((*out)[0].dataAs<uint16_t>()[0]), 1.0f);
  EXPECT_EQ(halfToFloat((*out)[0].dataAs<uint16_t>()[1]), 2052.0f);
}

TEST(Session, BroadcastErrorsNameTheNode) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[2] a, float[3] b) => (float[3] c) { c = Add(a, b) }
)");
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk());
  auto out = (*session)->run({{"a", Tensor::fromValues<float>(DType::kFloat, {2}, {1, 2})},
                              {"b", Tensor::fromValues<float>(DType::kFloat, {3}, {1, 2, 3})}});
  ASSERT_FALSE(out.isOk());
  EXPECT_NE(out.status().message().find("(Add)"), std::string::npos) << out.status().message();
  EXPECT_NE(out.status().message().find("[2] and [3] cannot be broadcast"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace nnc

namespace nnc {
namespace {

// A kernel that computes only the outputs the model uses (like LSTM's optional Y, Y_h, Y_c).
Status wantedOnly(KernelContext& ctx) {
  for (size_t i = 0; i < ctx.outputCount(); ++i)
    if (ctx.outputWanted(i)) ctx.setOutput(i, *ctx.input(0));
  return Status::ok();
}

Status takeBranch(KernelContext& ctx) {
  const Graph* g = ctx.attrGraph(ctx.input(0)->dataAs<uint8_t>()[0] ? "then_branch" : "else_branch");
  auto outs = ctx.runSubgraph(*g, {});
  if (!outs) return outs.status();
  for (size_t i = 0; i < outs->size(); ++i) ctx.setOutput(i, (*outs)[i]);
  return Status::ok();
}

TEST(Session, OutputReturnedOnlyByASubgraphIsWanted) {
  // `b` has no node use: only the then-branch returns it directly as its output. The producer
  // must still see it as wanted, and the session must keep it alive until the If ran.
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17, "test" : 1]>
g (bool c, float[2] x) => (float[2] z) {
  a, b = test.Pair(x)
  z = test.If <then_branch = t () => (float[2] b) { }, else_branch = e () => (float[2] a2) { a2 = Identity(a) }> (c)
}
)");
  OpRegistry registry = defaultRegistry();
  registry.add({"test", "Pair", 1, 1000, wantedOnly, true});
  registry.add({"test", "If", 1, 1000, takeBranch, true});
  auto session = Session::create(model, {1, &registry});
  ASSERT_TRUE(session.isOk()) << session.status().message();
  for (bool c : {true, false}) {
    auto out = (*session)->run({{"c", Tensor::fromValues<uint8_t>(DType::kBool, {}, {static_cast<uint8_t>(c)})},
                                {"x", Tensor::fromValues<float>(DType::kFloat, {2}, {1.0f, 2.0f})}});
    ASSERT_TRUE(out.isOk()) << out.status().message();
    EXPECT_EQ((*out)[0].dataAs<float>()[1], 2.0f);
  }
}

}  // namespace
}  // namespace nnc

namespace nnc {
namespace {

// Runs its body `n` times (attribute) with no inputs; returns the last run's outputs.
Status repeatBody(KernelContext& ctx) {
  std::vector<Tensor> last;
  for (int64_t i = 0; i < ctx.attrInt("n", 1); ++i) {
    auto outs = ctx.runSubgraph(*ctx.attrGraph("body"), {});
    if (!outs) return outs.status();
    last = *outs;
  }
  for (size_t i = 0; i < last.size(); ++i) ctx.setOutput(i, last[i]);
  return Status::ok();
}

TEST(Session, IntermediateReadOnlyInNestedSubgraphLivesThroughEveryIteration) {
  // `r` is computed in the main graph and read only two graphs down, on every iteration.
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 17, "test" : 1]>
g (bool c, float[2] x) => (float[2] z) {
  r = Relu(x)
  z = test.Repeat <n = 3, body = b () => (float[2] o) {
    o = test.If2 <then_branch = t () => (float[2] p) { p = Add(r, r) }, else_branch = e () => (float[2] q) { q = Identity(r) }> (c)
  }> ()
}
)");
  OpRegistry registry = defaultRegistry();
  registry.add({"test", "Repeat", 1, 1000, repeatBody, true});
  registry.add({"test", "If2", 1, 1000, takeBranch, true});
  auto session = Session::create(model, {1, &registry});
  ASSERT_TRUE(session.isOk()) << session.status().message();
  auto out = (*session)->run({{"c", Tensor::fromValues<uint8_t>(DType::kBool, {}, {1})},
                              {"x", Tensor::fromValues<float>(DType::kFloat, {2}, {-1.0f, 2.0f})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].dataAs<float>()[0], 0.0f);
  EXPECT_EQ((*out)[0].dataAs<float>()[1], 4.0f);
}

}  // namespace
}  // namespace nnc

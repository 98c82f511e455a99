// If, Loop and Scan: Silero-VAD-like patterns (an If whose branches run an LSTM on the outer
// graph's weight initializers, with branch outputs of different shapes), an If nested in a Loop
// reading values two and one graphs up, early exit, zero iterations, Scan axes/directions, and
// the backend's test_loop11 with stand-in Slice/Unsqueeze kernels (other op families).
#include <gtest/gtest.h>

#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "onnx/proto_util.h"
#include "ops/op_util.h"
#include "test_util.h"

namespace nnc {
namespace {

Model importText(const std::string& text, const std::function<void(onnx::ModelProto&)>& edit = nullptr) {
  onnx::ModelProto proto = test::parseText(text.c_str());
  if (edit) edit(proto);
  auto model = importModel(proto, "");
  EXPECT_TRUE(model.isOk()) << model.status().message();
  return std::move(model).value();
}

std::vector<float> floats(const Tensor& t) {
  const float* p = t.dataAs<float>();
  return std::vector<float>(p, p + t.elementCount());
}

Tensor scalarBool(bool v) { return Tensor::fromValues<uint8_t>(DType::kBool, {}, {static_cast<uint8_t>(v)}); }

// Silero VAD's shape: If(sr == 16000) with each branch running the network, the LSTM weights
// being initializers of the main graph and the state coming from outer inputs.
constexpr const char* kSileroLike = R"(
<ir_version: 8, opset_import: ["" : 14]>
g (bool c, float[2,1,3] x, float[1,1,2] h0, float[1,1,2] c0) => (float[N] out, float[1,1,2] hn)
  <float[1,8,3] W = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6, -0.7, 0.8, 0.9, -0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7,
                     -0.8, 0.9, 0.1, 0.2, -0.3, 0.4, -0.5, 0.6},
   float[1,8,2] R = {0.3, -0.1, 0.2, 0.5, -0.4, 0.1, 0.6, -0.2, 0.1, 0.3, -0.5, 0.2, 0.4, -0.3, 0.2, 0.1}>
{
  out, hn = If <
    then_branch = then_g () => (float[1,1,2] o, float[1,1,2] h) {
      y, h, cn = LSTM <hidden_size = 2> (x, W, R, , , h0, c0)
      o = Identity(cn)
    },
    else_branch = else_g () => (float[3] o2, float[1,1,2] h2) {
      o2 = Constant <value = float[3] {7.0, 8.0, 9.0}> ()
      h2 = Identity(h0)
    }> (c)
}
)";

TEST(ControlFlow, SileroLikeIfRunsLstmOnOuterInitializers) {
  Model model = importText(kSileroLike);
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk()) << session.status().message();

  Model direct = importText(R"(
<ir_version: 8, opset_import: ["" : 14]>
g (float[2,1,3] x, float[1,1,2] h0, float[1,1,2] c0) => (float[1,1,2] h, float[1,1,2] cn)
  <float[1,8,3] W = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6, -0.7, 0.8, 0.9, -0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7,
                     -0.8, 0.9, 0.1, 0.2, -0.3, 0.4, -0.5, 0.6},
   float[1,8,2] R = {0.3, -0.1, 0.2, 0.5, -0.4, 0.1, 0.6, -0.2, 0.1, 0.3, -0.5, 0.2, 0.4, -0.3, 0.2, 0.1}>
{ y, h, cn = LSTM <hidden_size = 2> (x, W, R, , , h0, c0) }
)");
  auto direct_session = Session::create(direct);
  ASSERT_TRUE(direct_session.isOk()) << direct_session.status().message();

  Tensor x = Tensor::fromValues<float>(DType::kFloat, {2, 1, 3}, {0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f});
  Tensor h0 = Tensor::fromValues<float>(DType::kFloat, {1, 1, 2}, {0.1f, -0.2f});
  Tensor c0 = Tensor::fromValues<float>(DType::kFloat, {1, 1, 2}, {0.3f, 0.4f});
  auto want = (*direct_session)->run({{"x", x}, {"h0", h0}, {"c0", c0}});
  ASSERT_TRUE(want.isOk()) << want.status().message();
  // Run twice: the session must not have released the outer values used by the branch.
  for (int run = 0; run < 2; ++run) {
    auto got = (*session)->run({{"c", scalarBool(true)}, {"x", x}, {"h0", h0}, {"c0", c0}});
    ASSERT_TRUE(got.isOk()) << got.status().message();
    EXPECT_EQ(floats((*got)[0]), floats((*want)[1]));
    EXPECT_EQ(floats((*got)[1]), floats((*want)[0]));
  }
  // The else branch has outputs of another shape.
  auto other = (*session)->run({{"c", scalarBool(false)}, {"x", x}, {"h0", h0}, {"c0", c0}});
  ASSERT_TRUE(other.isOk()) << other.status().message();
  EXPECT_EQ((*other)[0].shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(floats((*other)[0]), (std::vector<float>{7.0f, 8.0f, 9.0f}));
  EXPECT_EQ(floats((*other)[1]), floats(h0));
}

// Loop body: an If on a loop-carried flag adds or subtracts the main graph's `a` (two graphs
// up) to the carried y (one graph up) and flips the flag; y is also a scan output.
constexpr const char* kNestedIfInLoop = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int64 M, bool cond, float[1] y0, bool f0) => (float[1] y, bool f, float[K,1] ys)
  <float[1] a = {3.0}>
{
  y, f, ys = Loop <
    body = body_g (int64 i, bool c_in, float[1] y_in, bool f_in) => (bool c_out, float[1] y_out, bool f_out, float[1] s) {
      y_out, f_out = If <
        then_branch = t_g () => (float[1] sum, bool nf) { sum = Add(y_in, a)  nf = Constant <value = bool {0}> () },
        else_branch = e_g () => (float[1] diff, bool nt) { diff = Sub(y_in, a)  nt = Constant <value = bool {1}> () }> (f_in)
      c_out = Identity(c_in)
      s = Identity(y_out)
    }> (M, cond, y0, f0)
}
)";

TEST(ControlFlow, IfNestedInLoopReadsOuterValues) {
  Model model = importText(kNestedIfInLoop);
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  auto out = (*session)->run({{"M", Tensor::fromValues<int64_t>(DType::kInt64, {}, {4})},
                              {"cond", scalarBool(true)},
                              {"y0", Tensor::fromValues<float>(DType::kFloat, {1}, {1.0f})},
                              {"f0", scalarBool(true)}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(floats((*out)[0]), (std::vector<float>{1.0f}));
  EXPECT_EQ((*out)[1].dataAs<uint8_t>()[0], 1);
  EXPECT_EQ((*out)[2].shape, (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(floats((*out)[2]), (std::vector<float>{4.0f, 1.0f, 4.0f, 1.0f}));
}

TEST(ControlFlow, LoopWithoutTripCountStopsOnCondition) {
  // M omitted; cond_out is the flag the If flips, so the loop stops after the first iteration.
  std::string text = kNestedIfInLoop;
  text.replace(text.find("c_out = Identity(c_in)"), 22, "c_out = Identity(f_out)");
  Model model = importText(text, [](onnx::ModelProto& p) { p.mutable_graph()->mutable_node(0)->set_input(0, ""); });
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  auto out = (*session)->run({{"M", Tensor::fromValues<int64_t>(DType::kInt64, {}, {0})},
                              {"cond", scalarBool(true)},
                              {"y0", Tensor::fromValues<float>(DType::kFloat, {1}, {1.0f})},
                              {"f0", scalarBool(true)}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(floats((*out)[0]), (std::vector<float>{4.0f}));
  EXPECT_EQ((*out)[2].shape, (std::vector<int64_t>{1, 1}));
}

TEST(ControlFlow, LoopWithZeroIterationsGivesEmptyScanOutputs) {
  Model model = importText(kNestedIfInLoop);
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk());
  for (auto [m, cond] : {std::pair<int64_t, bool>{0, true}, {5, false}}) {
    auto out = (*session)->run({{"M", Tensor::fromValues<int64_t>(DType::kInt64, {}, {m})},
                                {"cond", scalarBool(cond)},
                                {"y0", Tensor::fromValues<float>(DType::kFloat, {1}, {2.0f})},
                                {"f0", scalarBool(true)}});
    ASSERT_TRUE(out.isOk()) << out.status().message();
    EXPECT_EQ(floats((*out)[0]), (std::vector<float>{2.0f}));  // the initial value passes through
    EXPECT_EQ((*out)[2].shape, (std::vector<int64_t>{0, 1}));
    EXPECT_EQ((*out)[2].dtype, DType::kFloat);
  }
}

TEST(ControlFlow, ScanAxesAndDirections) {
  // x [2,3] scanned along axis -1 in reverse: slices [3,6], [2,5], [1,4]; running sums
  // [3,6], [5,11], [6,15] stacked along axis 1 in reverse order.
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 16]>
g (float[2] init, float[2,3] x) => (float[2] total, float[2,3] sums)
{
  total, sums = Scan <num_scan_inputs = 1, scan_input_axes = [-1], scan_input_directions = [1],
                                scan_output_axes = [1], scan_output_directions = [1],
    body = b (float[2] acc, float[2] v) => (float[2] acc_out, float[2] s) { acc_out = Add(acc, v)  s = Identity(acc_out) }> (init, x)
}
)");
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  auto out = (*session)->run({{"init", Tensor::fromValues<float>(DType::kFloat, {2}, {0.0f, 0.0f})},
                              {"x", Tensor::fromValues<float>(DType::kFloat, {2, 3}, {1, 2, 3, 4, 5, 6})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(floats((*out)[0]), (std::vector<float>{6.0f, 15.0f}));
  EXPECT_EQ((*out)[1].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(floats((*out)[1]), (std::vector<float>{6, 5, 3, 15, 11, 6}));
}

TEST(ControlFlow, Scan8SequenceLengthsAndReverseDirection) {
  // Opset 8: batch axis 0. Row 0 (length 3) is scanned in reverse: 3, 2, 1 -> sums 3, 5, 6.
  // Row 1 (length 1) scans only its first step: 4, then its scan output is zero-padded.
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 8]>
g (int32[2] lens, float[2,1] init, float[2,3,1] x) => (float[2,1] total, float[2,3,1] sums)
{
  total, sums = Scan <num_scan_inputs = 1, directions = [1],
    body = b (float[1] acc, float[1] v) => (float[1] acc_out, float[1] s) { acc_out = Add(acc, v)  s = Identity(acc_out) }> (lens, init, x)
}
)");
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  auto out = (*session)->run({{"lens", Tensor::fromValues<int32_t>(DType::kInt32, {2}, {3, 1})},
                              {"init", Tensor::fromValues<float>(DType::kFloat, {2, 1}, {0.0f, 0.0f})},
                              {"x", Tensor::fromValues<float>(DType::kFloat, {2, 3, 1}, {1, 2, 3, 4, 5, 6})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ(floats((*out)[0]), (std::vector<float>{6.0f, 4.0f}));
  EXPECT_EQ((*out)[1].shape, (std::vector<int64_t>{2, 3, 1}));
  EXPECT_EQ(floats((*out)[1]), (std::vector<float>{3, 5, 6, 4, 0, 0}));
}

TEST(ControlFlow, SequenceTypedLoopValuesAreUnsupported) {
  Model model = importText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int64 M, float[1] y0) => (float[1] y)
{
  y = Loop <
    body = body_g (int64 i, bool c_in, float[1] y_in) => (bool c_out, float[1] y_out) { c_out = Identity(c_in) y_out = Identity(y_in) }> (M, , y0)
}
)",
                           [](onnx::ModelProto& p) {
                             auto* in = p.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g()->mutable_input(2);
                             in->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(1);
                           });
  auto session = Session::create(model);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  auto out = (*session)->run({{"M", Tensor::fromValues<int64_t>(DType::kInt64, {}, {1})},
                              {"y0", Tensor::fromValues<float>(DType::kFloat, {1}, {1.0f})}});
  ASSERT_FALSE(out.isOk());
  EXPECT_EQ(out.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(out.status().message().find("tensors only"), std::string::npos) << out.status().message();
}

// Stand-ins for the backend's test_loop11, whose body also uses Unsqueeze and Slice: just the
// forms that case needs (Unsqueeze of a scalar, Slice of a 1-D tensor with 1-element bounds).
Status unsqueezeScalar(KernelContext& ctx) {
  ctx.setOutput(0, ops::reshaped(*ctx.input(0), {1}));
  return Status::ok();
}

Status slice1d(KernelContext& ctx) {
  const Tensor& x = *ctx.input(0);
  const int64_t start = ctx.input(1)->dataAs<int64_t>()[0], end = ctx.input(2)->dataAs<int64_t>()[0];
  const float* p = x.dataAs<float>();
  ctx.setOutput(0, Tensor::fromValues<float>(DType::kFloat, {end - start}, std::vector<float>(p + start, p + end)));
  return Status::ok();
}

TEST(ControlFlow, BackendLoop11WithStandInKernels) {
  const std::string dir = test::onnxTestDataRoot() + "/node/test_loop11";
  auto model = loadModel(dir + "/model.onnx");
  ASSERT_TRUE(model.isOk()) << model.status().message();
  OpRegistry registry = defaultRegistry();
  registry.add({"", "Unsqueeze", 11, 12, unsqueezeScalar, true});
  registry.add({"", "Slice", 11, 12, slice1d, true});
  SessionOptions options;
  options.registry = &registry;
  auto session = Session::create(*model, options);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  auto readPb = [](const std::string& path) -> Tensor {
    onnx::TensorProto proto;
    EXPECT_TRUE(proto.ParseFromString(test::readFile(path)));
    onnx_io::ExternalDataResolver external("");
    auto t = onnx_io::tensorFromProto(proto, external);
    EXPECT_TRUE(t.isOk());
    return t.isOk() ? *t : Tensor();
  };
  const std::string set = dir + "/test_data_set_0/";
  auto out = (*session)->run(
      {{"trip_count", readPb(set + "input_0.pb")}, {"cond", readPb(set + "input_1.pb")}, {"y", readPb(set + "input_2.pb")}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(sameContents((*out)[i], readPb(set + "output_" + std::to_string(i) + ".pb"))) << "output " << i;
}

}  // namespace
}  // namespace nnc

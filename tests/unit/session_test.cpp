// Session: execution order, observer, missing kernels reported at once, input checks,
// float16 computed in float32 and rounded back.
#include <gtest/gtest.h>

#include "nncompress/ir/half.h"
#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

Model importText(const char* text) {
  onnx::ModelProto proto = test::parseText(text);
  auto model = importModel(proto, "");
  EXPECT_TRUE(model.isOk()) << model.status().message();
  return std::move(model).value();
}

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

// Hand-computed checks of the basic elementwise kernels (more cases in the conformance suite).
#include <gtest/gtest.h>

#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

TEST(ElementwiseOps, IntegerDivisionByZeroGivesZero) {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (int32[3] a, int32[3] b) => (int32[3] c) { c = Div(a, b) }
)");
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk());
  auto session = Session::create(*model);
  ASSERT_TRUE(session.isOk());
  auto out = (*session)->run({{"a", Tensor::fromValues<int32_t>(DType::kInt32, {3}, {7, -7, 5})},
                              {"b", Tensor::fromValues<int32_t>(DType::kInt32, {3}, {2, 2, 0})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const int32_t* c = (*out)[0].dataAs<int32_t>();
  EXPECT_EQ(c[0], 3);   // truncation toward zero, like C and ONNX Runtime
  EXPECT_EQ(c[1], -3);
  EXPECT_EQ(c[2], 0);
}

}  // namespace
}  // namespace nnc

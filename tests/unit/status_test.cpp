// Status / Expected basics and the DType table.
#include <gtest/gtest.h>

#include "nncompress/ir/dtype.h"
#include "nncompress/support/status.h"

namespace nnc {
namespace {

Expected<int> half(int x) {
  if (x % 2 != 0) return invalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Expected<int> quarter(int x) {
  NNC_ASSIGN_OR_RETURN(int h, half(x));
  return half(h);
}

TEST(Status, ContextIsPrepended) {
  Status s = invalidModel("bad dims").withContext("tensor 'w'").withContext("model.onnx");
  EXPECT_EQ(s.message(), "model.onnx: tensor 'w': bad dims");
  EXPECT_EQ(s.code(), ErrorCode::kInvalidModel);
  EXPECT_TRUE(Status::ok().withContext("x").isOk());
}

TEST(Status, ExpectedPropagatesErrors) {
  EXPECT_EQ(*quarter(8), 2);
  auto bad = quarter(6);
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().message(), "3 is odd");
}

TEST(Status, EnforceThrowsInternalError) {
  EXPECT_THROW(NNC_ENFORCE(1 + 1 == 3, "math"), InternalError);
}

TEST(DType, OnnxNumbersAndSizes) {
  EXPECT_EQ(dtypeName(DType::kFloat), "float");
  EXPECT_EQ(dtypeName(DType::kInt4), "int4");
  EXPECT_EQ(*dtypeFromOnnx(23), DType::kFloat4E2M1);
  EXPECT_FALSE(dtypeFromOnnx(24).has_value());
  EXPECT_FALSE(dtypeFromOnnx(-1).has_value());
  EXPECT_EQ(dtypeStorageBytes(DType::kInt4, 5), 3u);
  EXPECT_EQ(dtypeStorageBytes(DType::kFloat16, 5), 10u);
  EXPECT_EQ(dtypeStorageBytes(DType::kComplex128, 2), 32u);
  EXPECT_TRUE(isFloatingPoint(DType::kBFloat16));
  EXPECT_FALSE(isFloatingPoint(DType::kInt8));
}

}  // namespace
}  // namespace nnc

// Tensor data from every TensorProto storage form, checked against hand-written bytes.
#include <gtest/gtest.h>

#include <cstring>

#include "nncompress/analysis/model_summary.h"
#include "onnx/proto_util.h"

namespace nnc {
namespace {

using onnx_io::ExternalDataResolver;
using onnx_io::tensorFromProto;

TEST(Tensor, FloatDataBecomesRawLittleEndian) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::FLOAT);
  p.add_dims(2);
  p.add_float_data(1.5f);
  p.add_float_data(-2.0f);
  ExternalDataResolver ext("");
  auto t = tensorFromProto(p, ext);
  ASSERT_TRUE(t.isOk()) << t.status().message();
  ASSERT_EQ(t->byteSize(), 8u);
  EXPECT_EQ(t->dataAs<float>()[0], 1.5f);
  EXPECT_EQ(t->dataAs<float>()[1], -2.0f);
}

TEST(Tensor, Float16InInt32DataKeepsBitPattern) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::FLOAT16);
  p.add_dims(2);
  p.add_int32_data(0x3C00);  // 1.0
  p.add_int32_data(0xC000);  // -2.0
  ExternalDataResolver ext("");
  auto t = tensorFromProto(p, ext);
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(t->dataAs<uint16_t>()[0], 0x3C00);
  EXPECT_EQ(t->dataAs<uint16_t>()[1], 0xC000);
}

TEST(Tensor, Int4IsPackedTwoPerByte) {
  onnx::TensorProto p;
  p.set_data_type(22);  // INT4, unknown to ONNX 1.12
  p.add_dims(3);
  p.set_raw_data(std::string("\x21\x03", 2));
  ExternalDataResolver ext("");
  auto t = tensorFromProto(p, ext);
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ(t->dtype, DType::kInt4);
  EXPECT_EQ(t->byteSize(), 2u);
  EXPECT_EQ(countZeros(*t), 0);
  p.set_raw_data(std::string("\x21", 1));
  EXPECT_FALSE(tensorFromProto(p, ext).isOk());
}

TEST(Tensor, RawDataIsMovedNotCopied) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::INT64);
  p.add_dims(1024);
  p.set_raw_data(std::string(8192, '\1'));
  const char* before = p.raw_data().data();
  ExternalDataResolver ext("");
  auto t = tensorFromProto(p, ext);
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(reinterpret_cast<const char*>(t->bytes()), before);
}

TEST(Tensor, CountZerosTreatsNegativeZeroAsZero) {
  Tensor t = Tensor::fromValues<float>(DType::kFloat, {4}, {0.0f, -0.0f, 1.0f, 1e-30f});
  EXPECT_EQ(countZeros(t), 2);
}

TEST(Tensor, CheckedElementCount) {
  EXPECT_EQ(*checkedElementCount({2, 3, 4}), 24);
  EXPECT_EQ(*checkedElementCount({}), 1);
  EXPECT_FALSE(checkedElementCount({-1, 2}).isOk());
  EXPECT_FALSE(checkedElementCount({1LL << 40, 1LL << 40}).isOk());
}

}  // namespace
}  // namespace nnc

// Hand-computed checks of shape/data-movement kernels for corners the ONNX backend tests miss:
// non-float dtypes moved as bytes (float16, bool), zero-copy reshapes, clamping, negative
// steps, empty tensors, and bad shape inputs reported as errors instead of crashes.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

// Builds a model from ONNX text and runs it on `inputs`.
Expected<std::vector<Tensor>> runText(const std::string& text, NamedTensors inputs) {
  auto proto = test::parseText(text.c_str());
  auto model = importModel(proto, "");
  if (!model) return model.status();
  auto session = Session::create(*model);
  if (!session) return session.status();
  return (*session)->run(inputs);
}

Tensor ints(std::vector<int64_t> shape, std::vector<int64_t> v) { return Tensor::fromValues<int64_t>(DType::kInt64, std::move(shape), v); }

TEST(ShapeOps, ReshapeSharesBufferAndInfersDims) {
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {2, 3, 4}, std::vector<float>(24, 1.0f));
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 14]>
g (float[2,3,4] x, int64[3] s) => (float[2,4,3] y) { y = Reshape(x, s) }
)", {{"x", x}, {"s", ints({3}, {0, -1, 3})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].shape, (std::vector<int64_t>{2, 4, 3}));
  EXPECT_EQ((*out)[0].bytes(), x.bytes());  // zero-copy
}

TEST(ShapeOps, ReshapeBadShapeIsAnError) {
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {2, 3}, std::vector<float>(6, 1.0f));
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 14]>
g (float[2,3] x, int64[2] s) => (float[a,b] y) { y = Reshape(x, s) }
)";
  EXPECT_FALSE(runText(text, {{"x", x}, {"s", ints({2}, {-1, -1})}}).isOk());
  EXPECT_FALSE(runText(text, {{"x", x}, {"s", ints({2}, {4, 2})}}).isOk());
  EXPECT_FALSE(runText(text, {{"x", x}, {"s", ints({2}, {-2, 3})}}).isOk());
  EXPECT_TRUE(runText(text, {{"x", x}, {"s", ints({2}, {0, -1})}}).isOk());  // [2,3]: valid
}

TEST(ShapeOps, GatherOutOfRangeIsAnError) {
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {3}, {1, 2, 3});
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[3] x, int64[2] i) => (float[2] y) { y = Gather(x, i) }
)";
  auto bad = runText(text, {{"x", x}, {"i", ints({2}, {0, 3})}});
  EXPECT_FALSE(bad.isOk());
  auto good = runText(text, {{"x", x}, {"i", ints({2}, {-1, 0})}});
  ASSERT_TRUE(good.isOk()) << good.status().message();
  EXPECT_EQ((*good)[0].dataAs<float>()[0], 3.0f);
  EXPECT_EQ((*good)[0].dataAs<float>()[1], 1.0f);
}

TEST(ShapeOps, TransposeFloat16IsMovedAsBits) {
  // float16 bit patterns (including a NaN payload) must come through unchanged.
  Tensor x = Tensor::fromValues<uint16_t>(DType::kFloat16, {2, 3}, {0x3c00, 0x7e01, 0x8000, 0x0001, 0xfbff, 0x4000});
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float16[2,3] x) => (float16[3,2] y) { y = Transpose<perm = [1, 0]>(x) }
)", {{"x", x}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const uint16_t* y = (*out)[0].dataAs<uint16_t>();
  const std::vector<uint16_t> expected = {0x3c00, 0x0001, 0x7e01, 0xfbff, 0x8000, 0x4000};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(y[i], expected[i]) << i;
}

TEST(ShapeOps, SliceNegativeStepClampsAndEmpty) {
  Tensor x = Tensor::fromValues<int32_t>(DType::kInt32, {5}, {0, 1, 2, 3, 4});
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (int32[5] x, int64[1] s, int64[1] e, int64[1] a, int64[1] st) => (int32[n] y) { y = Slice(x, s, e, a, st) }
)";
  // start 100 clamps to 4, end INT64_MIN clamps to -1 (before the first element): everything reversed.
  auto out = runText(text, {{"x", x}, {"s", ints({1}, {100})}, {"e", ints({1}, {INT64_MIN})}, {"a", ints({1}, {-1})}, {"st", ints({1}, {-2})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  ASSERT_EQ((*out)[0].shape, std::vector<int64_t>{3});
  EXPECT_EQ((*out)[0].dataAs<int32_t>()[0], 4);
  EXPECT_EQ((*out)[0].dataAs<int32_t>()[1], 2);
  EXPECT_EQ((*out)[0].dataAs<int32_t>()[2], 0);
  auto empty = runText(text, {{"x", x}, {"s", ints({1}, {3})}, {"e", ints({1}, {1})}, {"a", ints({1}, {0})}, {"st", ints({1}, {1})}});
  ASSERT_TRUE(empty.isOk()) << empty.status().message();
  EXPECT_EQ((*empty)[0].shape, std::vector<int64_t>{0});
  auto zero_step = runText(text, {{"x", x}, {"s", ints({1}, {0})}, {"e", ints({1}, {5})}, {"a", ints({1}, {0})}, {"st", ints({1}, {0})}});
  EXPECT_FALSE(zero_step.isOk());
}

TEST(ShapeOps, ConcatBoolAndEmptyInput) {
  Tensor a = Tensor::fromValues<uint8_t>(DType::kBool, {2, 1}, {1, 0});
  Tensor b = Tensor::fromValues<uint8_t>(DType::kBool, {2, 0}, {});
  Tensor c = Tensor::fromValues<uint8_t>(DType::kBool, {2, 2}, {0, 1, 1, 1});
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bool[2,1] a, bool[2,0] b, bool[2,2] c) => (bool[2,3] y) { y = Concat<axis = -1>(a, b, c) }
)", {{"a", a}, {"b", b}, {"c", c}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const std::vector<uint8_t> expected = {1, 0, 1, 0, 1, 1};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ((*out)[0].dataAs<uint8_t>()[i], expected[i]) << i;
}

TEST(ShapeOps, PadReflectAndNegativePads) {
  Tensor x = Tensor::fromValues<int64_t>(DType::kInt64, {1, 4}, {1, 2, 3, 4});
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 18]>
g (int64[1,4] x, int64[2] p, int64[1] a) => (int64[1,n] y) { y = Pad<mode = "reflect">(x, p, , a) }
)";
  // pads on axis -1 only: begin 2 (reflect), end -1 (crop the last element).
  auto out = runText(text, {{"x", x}, {"p", ints({2}, {2, -1})}, {"a", ints({1}, {-1})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  ASSERT_EQ((*out)[0].shape, (std::vector<int64_t>{1, 5}));
  const std::vector<int64_t> expected = {3, 2, 1, 2, 3};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ((*out)[0].dataAs<int64_t>()[i], expected[i]) << i;
}

TEST(ShapeOps, LargeTransposeNchwToNhwc) {
  // A big 4D transpose (NCHW -> NHWC) exercises the tiled, threaded path; check a few elements.
  const int64_t n = 2, c = 33, h = 40, w = 50;
  std::vector<float> v(static_cast<size_t>(n * c * h * w));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[2,33,40,50] x) => (float[2,40,50,33] y) { y = Transpose<perm = [0, 2, 3, 1]>(x) }
)", {{"x", Tensor::fromValues<float>(DType::kFloat, {n, c, h, w}, v)}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const float* y = (*out)[0].dataAs<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < h; i += 7)
      for (int64_t j = 0; j < w; j += 3)
        for (int64_t k = 0; k < c; k += 5)
          ASSERT_EQ(y[((b * h + i) * w + j) * c + k], v[static_cast<size_t>(((b * c + k) * h + i) * w + j)]);
}

TEST(ShapeOps, TransposeFullTilesOfEachElementSize) {
  // 48x80 is whole 16x16 tiles (the AVX path for 4-byte types); check every element for 1-8 bytes.
  const int64_t r = 48, c = 80;
  for (const char* type : {"uint8", "float16", "int32", "double"}) {
    const std::string text = std::string("<ir_version: 8, opset_import: [\"\" : 13]>\ng (") + type + "[48,80] x) => (" + type +
                             "[80,48] y) { y = Transpose<perm = [1, 0]>(x) }";
    DType dtype = std::string(type) == "uint8" ? DType::kUInt8 : std::string(type) == "float16" ? DType::kFloat16
                  : std::string(type) == "int32" ? DType::kInt32 : DType::kDouble;
    const size_t esize = static_cast<size_t>(dtypeBits(dtype) / 8);
    uint8_t* data = nullptr;
    Tensor x = Tensor::zeros(dtype, {r, c}, &data);
    for (size_t i = 0; i < x.byteSize(); ++i) data[i] = static_cast<uint8_t>(i * 7 + i / 251);
    auto out = runText(text, {{"x", x}});
    ASSERT_TRUE(out.isOk()) << type << ": " << out.status().message();
    const uint8_t* y = (*out)[0].bytes();
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j)
        ASSERT_EQ(std::memcmp(y + static_cast<size_t>(j * r + i) * esize, data + static_cast<size_t>(i * c + j) * esize, esize), 0)
            << type << " at " << i << "," << j;
  }
}

TEST(ShapeOps, ContiguousSplitAndSliceShareTheInput) {
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {1, 4, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  auto parts = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,4,3] x, int64[2] s) => (float[1,1,3] a, float[1,3,3] b) { a, b = Split<axis = 1>(x, s) }
)", {{"x", x}, {"s", ints({2}, {1, 3})}});
  ASSERT_TRUE(parts.isOk()) << parts.status().message();
  EXPECT_EQ((*parts)[0].bytes(), x.bytes());
  EXPECT_EQ((*parts)[1].bytes(), x.bytes() + 3 * sizeof(float));
  EXPECT_EQ((*parts)[1].dataAs<float>()[0], 3.0f);
  EXPECT_EQ((*parts)[1].byteSize(), 9 * sizeof(float));
  auto rows = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,4,3] x, int64[1] s, int64[1] e, int64[1] a) => (float[1,3,3] y) { y = Slice(x, s, e, a) }
)", {{"x", x}, {"s", ints({1}, {1})}, {"e", ints({1}, {4})}, {"a", ints({1}, {1})}});
  ASSERT_TRUE(rows.isOk()) << rows.status().message();
  EXPECT_EQ((*rows)[0].bytes(), x.bytes() + 3 * sizeof(float));
  EXPECT_EQ((*rows)[0].dataAs<float>()[8], 11.0f);
}

TEST(ShapeOps, SplitNumOutputsUneven) {
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {5}, {1, 2, 3, 4, 5});
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 18]>
g (float[5] x) => (float[2] a, float[2] b, float[1] c) { a, b, c = Split<num_outputs = 3>(x) }
)", {{"x", x}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].shape, std::vector<int64_t>{2});
  EXPECT_EQ((*out)[2].shape, std::vector<int64_t>{1});
  EXPECT_EQ((*out)[2].dataAs<float>()[0], 5.0f);
}

TEST(ShapeOps, ScatterNDMaxAndBadIndex) {
  Tensor data = Tensor::fromValues<float>(DType::kFloat, {4}, {1, 5, 3, 7});
  const char* text = R"(
<ir_version: 8, opset_import: ["" : 18]>
g (float[4] d, int64[2,1] i, float[2] u) => (float[4] y) { y = ScatterND<reduction = "max">(d, i, u) }
)";
  auto out = runText(text, {{"d", data}, {"i", ints({2, 1}, {1, -1})}, {"u", Tensor::fromValues<float>(DType::kFloat, {2}, {9, 2})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const std::vector<float> expected = {1, 9, 3, 7};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ((*out)[0].dataAs<float>()[i], expected[i]) << i;
  EXPECT_FALSE(runText(text, {{"d", data}, {"i", ints({2, 1}, {1, 4})}, {"u", Tensor::fromValues<float>(DType::kFloat, {2}, {9, 2})}}).isOk());
}

TEST(ShapeOps, NonZeroTreatsNegativeZeroAsZero) {
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {4}, {-0.0f, 1.0f, 0.0f, -2.0f});
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[4] x) => (int64[1,n] y) { y = NonZero(x) }
)", {{"x", x}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  ASSERT_EQ((*out)[0].shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ((*out)[0].dataAs<int64_t>()[0], 1);
  EXPECT_EQ((*out)[0].dataAs<int64_t>()[1], 3);
}

TEST(ShapeOps, UniqueBoolSortedWithCounts) {
  Tensor x = Tensor::fromValues<uint8_t>(DType::kBool, {4}, {1, 0, 1, 1});
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 11]>
g (bool[4] x) => (bool[n] y, int64[n] i, int64[4] inv, int64[n] c) { y, i, inv, c = Unique(x) }
)", {{"x", x}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  ASSERT_EQ((*out)[0].shape, std::vector<int64_t>{2});
  EXPECT_EQ((*out)[0].dataAs<uint8_t>()[0], 0);
  EXPECT_EQ((*out)[1].dataAs<int64_t>()[0], 1);  // first 0 at index 1
  EXPECT_EQ((*out)[1].dataAs<int64_t>()[1], 0);
  EXPECT_EQ((*out)[2].dataAs<int64_t>()[0], 1);  // inverse of x[0] = true -> 1
  EXPECT_EQ((*out)[3].dataAs<int64_t>()[1], 3);
}

TEST(ShapeOps, TileBfloat16AndSqueezeErrors) {
  Tensor x = Tensor::fromValues<uint16_t>(DType::kBFloat16, {1, 2}, {0x3f80, 0xffc1});
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 13]>
g (bfloat16[1,2] x, int64[2] r) => (bfloat16[2,4] y) { y = Tile(x, r) }
)", {{"x", x}, {"r", ints({2}, {2, 2})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  for (int i = 0; i < 8; ++i) EXPECT_EQ((*out)[0].dataAs<uint16_t>()[i], i % 2 ? 0xffc1 : 0x3f80) << i;
  const char* squeeze = R"(
<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2] x, int64[1] a) => (float[n] y) { y = Squeeze(x, a) }
)";
  Tensor f = Tensor::fromValues<float>(DType::kFloat, {1, 2}, {1, 2});
  EXPECT_FALSE(runText(squeeze, {{"x", f}, {"a", ints({1}, {1})}}).isOk());  // dim 1 has size 2
  EXPECT_FALSE(runText(squeeze, {{"x", f}, {"a", ints({1}, {2})}}).isOk());  // out of range
  auto ok = runText(squeeze, {{"x", f}, {"a", ints({1}, {-2})}});
  ASSERT_TRUE(ok.isOk()) << ok.status().message();
  EXPECT_EQ((*ok)[0].shape, std::vector<int64_t>{2});
}

TEST(ShapeOps, UnsqueezeAttributeBeforeOpset13) {
  Tensor x = Tensor::fromValues<int8_t>(DType::kInt8, {3}, {1, 2, 3});
  auto out = runText(R"(
<ir_version: 8, opset_import: ["" : 11]>
g (int8[3] x) => (int8[3,1,1] y) { y = Unsqueeze<axes = [-1, 1]>(x) }
)", {{"x", x}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].shape, (std::vector<int64_t>{3, 1, 1}));
}

TEST(ShapeOps, BadModelDataIsAnErrorNotACrash) {
  Tensor f = Tensor::fromValues<float>(DType::kFloat, {2, 2}, {1, 2, 3, 4});
  auto fails = [&](const std::string& body, const std::string& inputs, NamedTensors feed) {
    auto out = runText("<ir_version: 8, opset_import: [\"\" : 18]>\ng (float[2,2] x" + inputs + ") => (float[n] y) { " + body + " }",
                       std::move(feed));
    EXPECT_FALSE(out.isOk()) << body;
    if (!out.isOk()) EXPECT_NE(out.status().message().find("y"), std::string::npos) << out.status().message();
  };
  const int64_t big = int64_t{1} << 40;
  fails("y = Tile(x, r)", ", int64[2] r", {{"x", f}, {"r", ints({2}, {big, big})}});
  fails("y = Tile(x, r)", ", int64[2] r", {{"x", f}, {"r", ints({2}, {-1, 1})}});
  fails("y = Expand(x, s)", ", int64[2] s", {{"x", f}, {"s", ints({2}, {big, big})}});
  fails("y = Expand(x, s)", ", int64[2] s", {{"x", f}, {"s", ints({2}, {3, 2})}});
  fails("y = ConstantOfShape(s)", ", int64[3] s", {{"x", f}, {"s", ints({3}, {big, big, big})}});
  fails("y = ConstantOfShape(s)", ", int64[1] s", {{"x", f}, {"s", ints({1}, {-5})}});
  fails("y = Pad(x, p)", ", int64[4] p", {{"x", f}, {"p", ints({4}, {0, big, 0, big})}});
  fails("y = Pad(x, p)", ", int64[4] p", {{"x", f}, {"p", ints({4}, {0, -3, 0, 0})}});
  fails("y = Pad(x, p)", ", int64[3] p", {{"x", f}, {"p", ints({3}, {0, 1, 0})}});
  fails("y = Reshape(x, s)", ", int64[3] s", {{"x", f}, {"s", ints({3}, {1, 0, 0})}});  // no input dim 2 to copy
  fails("y = GatherND(x, i)", ", int64[1,2] i", {{"x", f}, {"i", ints({1, 2}, {0, 2})}});
  fails("y = GatherND(x, i)", ", int64[1,3] i", {{"x", f}, {"i", ints({1, 3}, {0, 0, 0})}});
  fails("y = GatherElements<axis = 1>(x, i)", ", int64[2,2] i", {{"x", f}, {"i", ints({2, 2}, {0, 1, 2, 0})}});
  fails("y = ScatterElements(x, i, x)", ", int64[2,2] i", {{"x", f}, {"i", ints({2, 2}, {0, 1, -3, 0})}});
  fails("y = ScatterND(x, i, u)", ", int64[1,1] i, float[1] u", {{"x", f}, {"i", ints({1, 1}, {0})}, {"u", Tensor::fromValues<float>(DType::kFloat, {1}, {1})}});
  fails("y = DepthToSpace<blocksize = 3>(x)", "", {{"x", f}});
  fails("y = Transpose<perm = [0, 0]>(x)", "", {{"x", f}});
  fails("y = Slice(x, s, e, a)", ", int64[2] s, int64[2] e, int64[2] a",
        {{"x", f}, {"s", ints({2}, {0, 0})}, {"e", ints({2}, {1, 1})}, {"a", ints({2}, {1, -1})}});
  fails("y = Concat<axis = 2>(x, x)", "", {{"x", f}});
  fails("y = OneHot(i, d, v)", ", int64[1] i, int64[1] d, float[2] v",
        {{"x", f}, {"i", ints({1}, {0})}, {"d", ints({1}, {big})}, {"v", Tensor::fromValues<float>(DType::kFloat, {2}, {0, 1})}});
  Tensor cond = Tensor::fromValues<uint8_t>(DType::kBool, {3}, {0, 0, 1});
  fails("y = Compress<axis = 0>(x, c)", ", bool[3] c", {{"x", f}, {"c", cond}});
}

// The selected indices of one axis, as the ONNX spec words it (unlike Python, a start before the
// first element with a negative step clamps to 0 and selects it).
std::vector<int64_t> sliceIndices(int64_t n, int64_t start, int64_t end, int64_t step) {
  auto fix = [&](int64_t v, int64_t lo, int64_t hi) { return std::clamp(v < 0 ? v + n : v, lo, hi); };
  std::vector<int64_t> out;
  if (step > 0)
    for (int64_t i = fix(start, 0, n); i < fix(end, 0, n); i += step) out.push_back(i);
  else
    for (int64_t i = fix(start, 0, n - 1); i > fix(end, -1, n - 1); i += step) out.push_back(i);
  return out;
}

TEST(ShapeOps, RandomSlicesAndTransposesMatchNaive) {
  std::mt19937 rng(7);
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int iter = 0; iter < 60; ++iter) {
    const int rank = static_cast<int>(uni(1, 4));
    std::vector<int64_t> shape;
    for (int d = 0; d < rank; ++d) shape.push_back(uni(1, 9));
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int32_t>(i);
    Tensor x = Tensor::fromValues<int32_t>(DType::kInt32, shape, v);
    const auto strides = [&] {
      std::vector<int64_t> s(shape.size(), 1);
      for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
      return s;
    }();
    std::string dims;
    for (int d = 0; d < rank; ++d) dims += (d ? "," : "") + std::string(1, static_cast<char>('a' + d));
    // Slice: every axis, random start/end/step (steps may be negative).
    std::vector<int64_t> st, en, ax, sp;
    std::vector<std::vector<int64_t>> picks;
    for (int d = 0; d < rank; ++d) {
      int64_t step = uni(-3, 3);
      if (step == 0) step = 1;
      st.push_back(uni(-12, 12));
      en.push_back(uni(-12, 12));
      ax.push_back(d - (iter % 2 ? rank : 0));
      sp.push_back(step);
      picks.push_back(sliceIndices(shape[static_cast<size_t>(d)], st.back(), en.back(), step));
    }
    const auto r = static_cast<int64_t>(rank);
    auto out = runText("<ir_version: 8, opset_import: [\"\" : 13]>\ng (int32[" + dims + "] x, int64[" + std::to_string(rank) +
                           "] s, int64[" + std::to_string(rank) + "] e, int64[" + std::to_string(rank) + "] a, int64[" +
                           std::to_string(rank) + "] p) => (int32[" + dims + "] y) { y = Slice(x, s, e, a, p) }",
                       {{"x", x}, {"s", ints({r}, st)}, {"e", ints({r}, en)}, {"a", ints({r}, ax)}, {"p", ints({r}, sp)}});
    ASSERT_TRUE(out.isOk()) << out.status().message();
    std::vector<int64_t> expect_shape;
    for (const auto& p : picks) expect_shape.push_back(static_cast<int64_t>(p.size()));
    ASSERT_EQ((*out)[0].shape, expect_shape) << "iteration " << iter;
    const int64_t m = (*out)[0].elementCount();
    for (int64_t i = 0; i < m; ++i) {
      int64_t rem = i, src = 0;
      for (int d = rank; d-- > 0;) {
        src += picks[static_cast<size_t>(d)][static_cast<size_t>(rem % expect_shape[static_cast<size_t>(d)])] * strides[static_cast<size_t>(d)];
        rem /= expect_shape[static_cast<size_t>(d)];
      }
      ASSERT_EQ((*out)[0].dataAs<int32_t>()[i], v[static_cast<size_t>(src)]) << "slice iteration " << iter << " element " << i;
    }
    // Transpose: a random permutation.
    std::vector<int64_t> perm(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) perm[static_cast<size_t>(d)] = d;
    std::shuffle(perm.begin(), perm.end(), rng);
    std::string perm_text;
    for (int64_t p : perm) perm_text += (perm_text.empty() ? "" : ", ") + std::to_string(p);
    auto tr = runText("<ir_version: 8, opset_import: [\"\" : 13]>\ng (int32[" + dims + "] x) => (int32[" + dims +
                          "] y) { y = Transpose<perm = [" + perm_text + "]>(x) }", {{"x", x}});
    ASSERT_TRUE(tr.isOk()) << tr.status().message();
    std::vector<int64_t> tshape;
    for (int64_t p : perm) tshape.push_back(shape[static_cast<size_t>(p)]);
    ASSERT_EQ((*tr)[0].shape, tshape);
    for (int64_t i = 0; i < n; ++i) {
      int64_t rem = i, src = 0;
      for (int d = rank; d-- > 0;) {
        src += (rem % tshape[static_cast<size_t>(d)]) * strides[static_cast<size_t>(perm[static_cast<size_t>(d)])];
        rem /= tshape[static_cast<size_t>(d)];
      }
      ASSERT_EQ((*tr)[0].dataAs<int32_t>()[i], v[static_cast<size_t>(src)]) << "transpose iteration " << iter << " element " << i;
    }
  }
}

}  // namespace
}  // namespace nnc

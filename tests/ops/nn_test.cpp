// Hand-computed and naive-reference checks of the nn kernels where the ONNX 1.12 backend tests
// say nothing: the depthwise and grouped Conv paths (against a naive loop), error cases, and the
// opset 18-21 features (GroupNormalization, Resize axes / keep_aspect_ratio_policy / antialias /
// half_pixel_symmetric, AveragePool dilations, LpPool), MaxPool Indices in column-major order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

Expected<std::vector<Tensor>> runText(const std::string& text, const NamedTensors& inputs) {
  auto proto = test::parseText(text.c_str());
  auto model = importModel(proto, "");
  if (!model) return model.status();
  auto session = Session::create(*model);
  if (!session) return session.status();
  return (*session)->run(inputs);
}

Tensor floats(const std::vector<int64_t>& shape, const std::vector<float>& v) { return Tensor::fromValues<float>(DType::kFloat, shape, v); }

std::vector<float> pattern(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& f : v) {
    seed = seed * 1664525u + 1013904223u;
    f = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
  }
  return v;
}

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.dataAs<float>(), t.dataAs<float>() + t.elementCount()); }

void expectNear(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-4f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

struct ConvCase {
  int64_t n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group;
};

// Naive 2-D convolution, the reference for the optimized paths.
std::vector<float> naiveConv(const ConvCase& k, const std::vector<float>& x, const std::vector<float>& wt, const std::vector<float>& b,
                             int64_t* oh_out, int64_t* ow_out) {
  const int64_t OH = (k.h + k.pt + k.pb - ((k.kh - 1) * k.dh + 1)) / k.sh + 1;
  const int64_t OW = (k.w + k.pl + k.pr - ((k.kw - 1) * k.dw + 1)) / k.sw + 1;
  const int64_t cg = k.c / k.group, mg = k.m / k.group;
  std::vector<float> y(static_cast<size_t>(k.n * k.m * OH * OW));
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t m = 0; m < k.m; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b[static_cast<size_t>(m)];
          const int64_t g = m / mg;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < k.kh; ++i)
              for (int64_t j = 0; j < k.kw; ++j) {
                const int64_t ih = oh * k.sh - k.pt + i * k.dh, iw = ow * k.sw - k.pl + j * k.dw;
                if (ih < 0 || ih >= k.h || iw < 0 || iw >= k.w) continue;
                acc += x[static_cast<size_t>(((n * k.c + g * cg + ci) * k.h + ih) * k.w + iw)] *
                       wt[static_cast<size_t>(((m * cg + ci) * k.kh + i) * k.kw + j)];
              }
          y[static_cast<size_t>(((n * k.m + m) * OH + oh) * OW + ow)] = static_cast<float>(acc);
        }
  *oh_out = OH;
  *ow_out = OW;
  return y;
}

std::string ints(std::initializer_list<int64_t> v) {
  std::string s;
  for (int64_t i : v) s += (s.empty() ? "" : ", ") + std::to_string(i);
  return "[" + s + "]";
}

void checkConv(const ConvCase& k) {
  const auto x = pattern(k.n * k.c * k.h * k.w, 1), w = pattern(k.m * (k.c / k.group) * k.kh * k.kw, 2), b = pattern(k.m, 3);
  int64_t OH, OW;
  const auto want = naiveConv(k, x, w, b, &OH, &OW);
  const std::string text = "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[N,C,H,W] x, float[M,K,KH,KW] w, float[M] b) => (float y) {\n"
                           "  y = Conv<strides = " + ints({k.sh, k.sw}) + ", dilations = " + ints({k.dh, k.dw}) +
                           ", pads = " + ints({k.pt, k.pl, k.pb, k.pr}) + ", group = " + std::to_string(k.group) + ">(x, w, b)\n}\n";
  auto out = runText(text, {{"x", floats({k.n, k.c, k.h, k.w}, x)}, {"w", floats({k.m, k.c / k.group, k.kh, k.kw}, w)}, {"b", floats({k.m}, b)}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].shape, (std::vector<int64_t>{k.n, k.m, OH, OW}));
  expectNear(values((*out)[0]), want);
}

// The same case as a 1-D conv (input N x C x W): k must have h == kh == 1 and no padding,
// stride or dilation on the height axis; the naive 2-D result over one row is the reference.
void checkConv1d(const ConvCase& k) {
  ASSERT_TRUE(k.h == 1 && k.kh == 1 && k.sh == 1 && k.dh == 1 && k.pt == 0 && k.pb == 0);
  const auto x = pattern(k.n * k.c * k.w, 4), w = pattern(k.m * (k.c / k.group) * k.kw, 5), b = pattern(k.m, 6);
  int64_t OH, OW;
  const auto want = naiveConv(k, x, w, b, &OH, &OW);
  const std::string text = "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[N,C,W] x, float[M,K,KW] w, float[M] b) => (float y) {\n"
                           "  y = Conv<strides = " + ints({k.sw}) + ", dilations = " + ints({k.dw}) + ", pads = " + ints({k.pl, k.pr}) +
                           ", group = " + std::to_string(k.group) + ">(x, w, b)\n}\n";
  auto out = runText(text, {{"x", floats({k.n, k.c, k.w}, x)}, {"w", floats({k.m, k.c / k.group, k.kw}, w)}, {"b", floats({k.m}, b)}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_EQ((*out)[0].shape, (std::vector<int64_t>{k.n, k.m, OW}));
  expectNear(values((*out)[0]), want);
}

TEST(NnOps, Conv1dDepthwiseAndSmallOutputBatchesMatchNaive) {
  // 1-D depthwise (direct kernel over one-row planes): padded, strided, dilated, 1-17 outputs.
  checkConv1d({1, 258, 1, 4, 258, 1, 5, 1, 1, 1, 1, 0, 2, 0, 2, 258});
  checkConv1d({3, 16, 1, 2, 16, 1, 5, 1, 1, 1, 1, 0, 2, 0, 2, 16});
  checkConv1d({2, 5, 1, 40, 5, 1, 3, 1, 2, 1, 3, 0, 1, 0, 4, 5});
  // Batches with few outputs per sample: one GEMM over the batch (strided STFT-like, pointwise).
  checkConv1d({4, 1, 1, 48, 9, 1, 16, 1, 8, 1, 1, 0, 0, 0, 0, 1});
  checkConv1d({32, 32, 1, 1, 64, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1});
  checkConv1d({5, 6, 1, 3, 7, 1, 3, 1, 1, 1, 2, 0, 2, 0, 1, 1});
  // Grouped (not depthwise) stays on the per-group path.
  checkConv1d({3, 4, 1, 6, 6, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1, 2});
  // 1-4 outputs per GEMM: dot products instead of a packed GEMM (batch 1; per group).
  checkConv1d({1, 65, 1, 3, 128, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1, 1});
  checkConv1d({2, 4, 1, 2, 6, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1, 2});
  checkConv1d({1, 1, 1, 288, 130, 1, 128, 1, 64, 1, 1, 0, 0, 0, 0, 1});
}

TEST(NnOps, SmallOutputBatchedConvMatchesNaive) {
  checkConv({4, 5, 4, 4, 7, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1});  // 2 x 2 outputs per sample
  checkConv({6, 16, 2, 3, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1});  // pointwise, 6 outputs per sample
}

TEST(NnOps, DepthwiseConvMatchesNaive) {
  checkConv({1, 8, 13, 37, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8});   // odd width: masked tail
  checkConv({2, 6, 11, 20, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6});   // stride 2, batch 2
  checkConv({1, 4, 9, 33, 4, 5, 5, 1, 3, 2, 2, 0, 4, 3, 1, 4});    // dilation, asymmetric pads, stride 3
  checkConv({1, 3, 7, 7, 3, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 3});     // no padding
}

TEST(NnOps, GroupedAndStridedConvMatchesNaive) {
  checkConv({2, 4, 10, 9, 6, 3, 2, 2, 1, 1, 2, 1, 0, 2, 1, 2});    // groups, dilation, asymmetric pads
  checkConv({1, 16, 12, 12, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1});  // pointwise: no im2col
  checkConv({3, 5, 8, 8, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1});     // batch of small GEMMs
  checkConv({1, 6, 6, 6, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3});    // channel multiplier 4
  checkConv({1, 32, 20, 20, 50, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}); // GEMM: parallel column blocks, K > 256
  checkConv({1, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1});   // GEMM: one column block, rows split
}

TEST(NnOps, ConvRejectsKernelLargerThanPaddedInput) {
  auto out = runText(R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[1,1,2,2] x, float[1,1,3,3] w) => (float y) { y = Conv(x, w) })",
                     {{"x", floats({1, 1, 2, 2}, {1, 2, 3, 4})}, {"w", floats({1, 1, 3, 3}, pattern(9, 1))}});
  ASSERT_FALSE(out.isOk());
  EXPECT_NE(out.status().message().find("larger than the padded input"), std::string::npos) << out.status().message();
}

TEST(NnOps, ConvRejectsEmptySpatialDim) {
  auto out = runText(R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[1,1,0,2] x, float[1,1,1,1] w) => (float y) { y = Conv(x, w) })",
                     {{"x", floats({1, 1, 0, 2}, {})}, {"w", floats({1, 1, 1, 1}, {1})}});
  ASSERT_FALSE(out.isOk());
}

TEST(NnOps, ConvTransposeGroupsAndOutputPadding) {
  // x: 1x2x2x2, two groups, each 1 input -> 1 output channel, 2x2 kernel of ones, stride 2,
  // output_padding 1: each input value fills its own 2x2 block, the extra row/col stays 0 (+bias).
  auto out = runText(R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[1,2,2,2] x, float[2,1,2,2] w, float[2] b) => (float y) { y = ConvTranspose<group = 2, strides = [2, 2], output_padding = [1, 1]>(x, w, b) })",
                     {{"x", floats({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})},
                      {"w", floats({2, 1, 2, 2}, {1, 1, 1, 1, 2, 2, 2, 2})},
                      {"b", floats({2}, {0, 100})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  ASSERT_EQ((*out)[0].shape, (std::vector<int64_t>{1, 2, 5, 5}));
  const auto y = values((*out)[0]);
  EXPECT_EQ(y[0], 1);
  EXPECT_EQ(y[3], 2);
  EXPECT_EQ(y[4], 0);                // output_padding column
  EXPECT_EQ(y[25 + 0], 110);         // group 1: 5 * 2 + 100
  EXPECT_EQ(y[25 + 3 * 5 + 3], 116);  // 8 * 2 + 100
  EXPECT_EQ(y[25 + 24], 100);
}

// Naive 2-D max pooling (floor mode; padding never wins), the reference for MaxPool's row path.
std::vector<float> naiveMaxPool(const ConvCase& k, const std::vector<float>& x, int64_t* ow_out) {
  const int64_t OH = (k.h + k.pt + k.pb - ((k.kh - 1) * k.dh + 1)) / k.sh + 1;
  const int64_t OW = (k.w + k.pl + k.pr - ((k.kw - 1) * k.dw + 1)) / k.sw + 1;
  std::vector<float> y;
  for (int64_t p = 0; p < k.n * k.c; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        float best = -INFINITY;
        for (int64_t i = 0; i < k.kh; ++i)
          for (int64_t j = 0; j < k.kw; ++j) {
            const int64_t ih = oh * k.sh - k.pt + i * k.dh, iw = ow * k.sw - k.pl + j * k.dw;
            if (ih >= 0 && ih < k.h && iw >= 0 && iw < k.w) best = std::max(best, x[static_cast<size_t>((p * k.h + ih) * k.w + iw)]);
          }
        y.push_back(best);
      }
  *ow_out = OW;
  return y;
}

TEST(NnOps, MaxPoolMatchesNaive) {
  for (const ConvCase& k : std::vector<ConvCase>{
           {1, 3, 28, 28, 3, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1},   // 2x2 stride 2
           {2, 2, 15, 17, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},   // 3x3 stride 2, padded, odd sizes
           {1, 2, 9, 23, 2, 3, 3, 1, 1, 2, 2, 2, 2, 1, 3, 1},    // dilation 2, asymmetric pads
           {1, 1, 4, 5, 1, 1, 5, 1, 3, 1, 1, 0, 4, 0, 4, 1}}) {  // no complete window in a row
    const auto x = pattern(k.n * k.c * k.h * k.w, 7);
    int64_t OW;
    const auto want = naiveMaxPool(k, x, &OW);
    const std::string text = "<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[N,C,H,W] x) => (float y) {\n"
                             "  y = MaxPool<kernel_shape = " + ints({k.kh, k.kw}) + ", strides = " + ints({k.sh, k.sw}) +
                             ", dilations = " + ints({k.dh, k.dw}) + ", pads = " + ints({k.pt, k.pl, k.pb, k.pr}) + ">(x)\n}\n";
    auto out = runText(text, {{"x", floats({k.n, k.c, k.h, k.w}, x)}});
    ASSERT_TRUE(out.isOk()) << out.status().message();
    EXPECT_EQ((*out)[0].shape.back(), OW);
    expectNear(values((*out)[0]), want, 0.0f);
  }
}

TEST(NnOps, MaxPoolIndicesColumnMajor) {
  auto out = runText(R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[1,1,2,3] x) => (float y, int64 i) { y, i = MaxPool<kernel_shape = [2, 2], storage_order = 1>(x) })",
                     {{"x", floats({1, 1, 2, 3}, {1, 9, 2, 3, 4, 8})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  expectNear(values((*out)[0]), {9, 9});
  const int64_t* idx = (*out)[1].dataAs<int64_t>();
  EXPECT_EQ(idx[0], 2);  // (h=0, w=1) column-major: w * H + h = 1 * 2 + 0
  EXPECT_EQ(idx[1], 2);
}

TEST(NnOps, AveragePoolDilationsOpset19) {
  auto out = runText(R"(<ir_version: 9, opset_import: ["" : 19]>
g (float[1,1,1,5] x) => (float y) { y = AveragePool<kernel_shape = [1, 2], dilations = [1, 2]>(x) })",
                     {{"x", floats({1, 1, 1, 5}, {1, 2, 3, 4, 5})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  expectNear(values((*out)[0]), {2, 3, 4});  // (1+3)/2, (2+4)/2, (3+5)/2
}

TEST(NnOps, LpPoolAndGlobalLpPool) {
  auto out = runText(R"(<ir_version: 8, opset_import: ["" : 18]>
g (float[1,1,1,4] x) => (float y, float z) { y = LpPool<kernel_shape = [1, 2], strides = [1, 2], p = 2>(x)
  z = GlobalLpPool<p = 1>(x) })",
                     {{"x", floats({1, 1, 1, 4}, {3, -4, 6, 8})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  expectNear(values((*out)[0]), {5, 10});
  expectNear(values((*out)[1]), {21});
}

TEST(NnOps, GroupNormalizationPerGroupAndPerChannel) {
  // Two groups of two channels with one value each: group values {1, 3} -> mean 2, var 1.
  const std::vector<float> x{1, 3, 10, 14};
  auto v18 = runText(R"(<ir_version: 8, opset_import: ["" : 18]>
g (float[1,4,1] x, float[2] s, float[2] b) => (float y) { y = GroupNormalization<num_groups = 2, epsilon = 0.0>(x, s, b) })",
                     {{"x", floats({1, 4, 1}, x)}, {"s", floats({2}, {1, 2})}, {"b", floats({2}, {0, 1})}});
  ASSERT_TRUE(v18.isOk()) << v18.status().message();
  expectNear(values((*v18)[0]), {-1, 1, -1, 3});
  auto v21 = runText(R"(<ir_version: 10, opset_import: ["" : 21]>
g (float[1,4,1] x, float[4] s, float[4] b) => (float y) { y = GroupNormalization<num_groups = 2, epsilon = 0.0>(x, s, b) })",
                     {{"x", floats({1, 4, 1}, x)}, {"s", floats({4}, {1, 2, 3, 4})}, {"b", floats({4}, {0, 0, 0, 1})}});
  ASSERT_TRUE(v21.isOk()) << v21.status().message();
  expectNear(values((*v21)[0]), {-1, 2, -3, 5});
}

TEST(NnOps, LayerNormalizationOutputsStatistics) {
  auto out = runText(R"(<ir_version: 8, opset_import: ["" : 17]>
g (float[2,2] x, float[2] s) => (float y, float m, float r) { y, m, r = LayerNormalization<epsilon = 0.0>(x, s) })",
                     {{"x", floats({2, 2}, {1, 3, 5, 9})}, {"s", floats({2}, {1, 1})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  expectNear(values((*out)[0]), {-1, 1, -1, 1});
  EXPECT_EQ((*out)[1].shape, (std::vector<int64_t>{2, 1}));
  expectNear(values((*out)[1]), {2, 7});
  expectNear(values((*out)[2]), {1, 0.5f});
}

TEST(NnOps, ResizeAxesAndKeepAspectRatio) {
  // Opset 18: sizes for axes [2, 3] with not_larger: scale = min(4/2, 8/2) = 2 -> 4x4.
  auto out = runText(R"(<ir_version: 8, opset_import: ["" : 18]>
g (float[1,1,2,2] x, int64[2] sizes) => (float y) { y = Resize<mode = "nearest", axes = [2, 3], keep_aspect_ratio_policy = "not_larger">(x, , , sizes) })",
                     {{"x", floats({1, 1, 2, 2}, {1, 2, 3, 4})}, {"sizes", Tensor::fromValues<int64_t>(DType::kInt64, {2}, {4, 8})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  ASSERT_EQ((*out)[0].shape, (std::vector<int64_t>{1, 1, 4, 4}));
  expectNear(values((*out)[0]), {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
}

TEST(NnOps, ResizeLinearAntialiasDownsample) {
  // 4 -> 2 with antialias: scale 0.5 widens the triangle filter to 4 taps. For output 0,
  // x = 0.5: taps at -1..2 (edge-clamped to 0..2) with weights (0.25, 0.75, 0.75, 0.25)/2.
  auto out = runText(R"(<ir_version: 8, opset_import: ["" : 18]>
g (float[1,4] x, float[2] scales) => (float y) { y = Resize<mode = "linear", antialias = 1>(x, , scales) })",
                     {{"x", floats({1, 4}, {0, 4, 8, 12})}, {"scales", floats({2}, {1, 0.5f})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  // (0.25*0 + 0.75*0 + 0.75*4 + 0.25*8) / 2 = 2.5 and symmetric 9.5.
  expectNear(values((*out)[0]), {2.5f, 9.5f});
}

TEST(NnOps, ResizeHalfPixelSymmetricOpset19) {
  // 2 -> 3 (scale 1.5 exactly, so the symmetric offset is 0): x = (j + 0.5) / 1.5 - 0.5.
  auto out = runText(R"(<ir_version: 9, opset_import: ["" : 19]>
g (float[1,2] x, float[2] scales) => (float y) { y = Resize<mode = "linear", coordinate_transformation_mode = "half_pixel_symmetric">(x, , scales) })",
                     {{"x", floats({1, 2}, {0, 6})}, {"scales", floats({2}, {1, 1.5f})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  expectNear(values((*out)[0]), {0, 3, 6});
}

// ONNX Runtime's bilinear kernel, written out independently: float half_pixel coordinates clamped
// to [0, in-1], float weights, and the four products summed in ORT's order.
std::vector<float> ortBilinearReference(const std::vector<float>& x, int64_t planes, int64_t ih, int64_t iw, int64_t oh,
                                        int64_t ow) {
  struct Tap {
    int64_t i1, i2;
    float d1, d2;
  };
  auto taps = [](int64_t in, int64_t out) {
    std::vector<Tap> t;
    const float scale = static_cast<float>(out) / static_cast<float>(in);
    for (int64_t o = 0; o < out; ++o) {
      volatile float v = (static_cast<float>(o) + 0.5f) / scale;  // volatile: no contraction with -0.5f
      float c = std::max(0.0f, std::min(v - 0.5f, static_cast<float>(in - 1)));
      Tap k{std::min<int64_t>(static_cast<int64_t>(c), in - 1), 0, 0, 0};
      k.i2 = std::min(k.i1 + 1, in - 1);
      k.d1 = std::fabs(c - static_cast<float>(k.i1));
      k.d2 = std::fabs(c - static_cast<float>(k.i2));
      if (k.i1 == k.i2) k.d1 = k.d2 = 0.5f;
      t.push_back(k);
    }
    return t;
  };
  const auto ty = taps(ih, oh), tx = taps(iw, ow);
  std::vector<float> y;
  for (int64_t p = 0; p < planes; ++p)
    for (const Tap& a : ty)
      for (const Tap& b : tx) {
        const float* plane = x.data() + p * ih * iw;
        // Each product and partial sum stored in a volatile float: rounded exactly as ORT rounds.
        volatile float w11 = b.d2 * a.d2, w21 = b.d1 * a.d2, w12 = b.d2 * a.d1, w22 = b.d1 * a.d1;
        volatile float t11 = w11 * plane[a.i1 * iw + b.i1], t21 = w21 * plane[a.i1 * iw + b.i2];
        volatile float t12 = w12 * plane[a.i2 * iw + b.i1], t22 = w22 * plane[a.i2 * iw + b.i2];
        volatile float s = t11 + t21;
        s = s + t12;
        s = s + t22;
        y.push_back(static_cast<float>(s));
      }
  return y;
}

TEST(NnOps, ResizeLinearMatchesOnnxRuntimeBitForBit) {
  // 7x9 -> 16x19 by sizes (scales 16/7, 19/9 in float): the ORT bilinear path, exact equality.
  const std::vector<float> x = pattern(2 * 3 * 7 * 9, 7);
  auto out = runText(R"(<ir_version: 8, opset_import: ["" : 15]>
g (float[2,3,7,9] x, int64[4] sizes) => (float y) { y = Resize<mode = "linear">(x, , , sizes) })",
                     {{"x", floats({2, 3, 7, 9}, x)}, {"sizes", Tensor::fromValues<int64_t>(DType::kInt64, {4}, {2, 3, 16, 19})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const std::vector<float> want = ortBilinearReference(x, 6, 7, 9, 16, 19);
  const std::vector<float> got = values((*out)[0]);
  ASSERT_EQ(got.size(), want.size());
  int64_t differ = 0;
  for (size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
  EXPECT_EQ(differ, 0);

  // The same data as NHWC (scales 1 on N and C): ORT's channels-last kernel, same arithmetic.
  std::vector<float> nhwc(x.size());
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < 63; ++i) nhwc[static_cast<size_t>((n * 63 + i) * 3 + c)] = x[static_cast<size_t>((n * 3 + c) * 63 + i)];
  auto out2 = runText(R"(<ir_version: 8, opset_import: ["" : 15]>
g (float[2,7,9,3] x, int64[4] sizes) => (float y) { y = Resize<mode = "linear">(x, , , sizes) })",
                      {{"x", floats({2, 7, 9, 3}, nhwc)}, {"sizes", Tensor::fromValues<int64_t>(DType::kInt64, {4}, {2, 16, 19, 3})}});
  ASSERT_TRUE(out2.isOk()) << out2.status().message();
  const std::vector<float> got2 = values((*out2)[0]);
  differ = 0;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < 16 * 19; ++i)
        differ += got2[static_cast<size_t>((n * 304 + i) * 3 + c)] != want[static_cast<size_t>((n * 3 + c) * 304 + i)];
  EXPECT_EQ(differ, 0);
}

TEST(NnOps, UpsampleOpset7NearestAttribute) {
  auto out = runText(R"(<ir_version: 3, opset_import: ["" : 7]>
g (float[1,2] x) => (float y) { y = Upsample<scales = [1.0, 2.0]>(x) })",
                     {{"x", floats({1, 2}, {1, 2})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  expectNear(values((*out)[0]), {1, 1, 2, 2});
}

}  // namespace
}  // namespace nnc

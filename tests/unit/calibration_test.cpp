// Calibration statistics: the streaming histogram (binning, exact growth), the range methods
// against hand-computed values (percentile, mse) and a numpy reference (entropy, see the
// comment there), calibration over a dataset and the ranges file.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nncompress/analysis/calibration.h"
#include "nncompress/analysis/histogram.h"
#include "nncompress/onnx/import.h"
#include "test_util.h"

namespace nnc {
namespace {

std::vector<uint64_t> counts(std::initializer_list<uint64_t> c) { return c; }

TEST(ValueHistogram, BinsAndGrowsByExactPairMerges) {
  ValueHistogram h(8);
  const float a[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  h.add(a, 9);  // limit 8, width 1; 8 lands in the last bin
  EXPECT_EQ(h.positive().limit, 8);
  EXPECT_EQ(h.positive().counts, counts({1, 1, 1, 1, 1, 1, 1, 2}));
  const float b[] = {16};
  h.add(b, 1);  // limit doubles to 16: pairs merge, 16 goes to the last bin
  EXPECT_EQ(h.positive().limit, 16);
  EXPECT_EQ(h.positive().counts, counts({2, 2, 2, 3, 0, 0, 0, 1}));
  const float c[] = {-1, -3};
  h.add(c, 2);  // negative side: limit 3, width 0.375: 1 -> bin 2, 3 -> bin 7
  EXPECT_EQ(h.negative().limit, 3);
  EXPECT_EQ(h.negative().counts, counts({0, 0, 1, 0, 0, 0, 0, 1}));
  EXPECT_EQ(h.min(), -3);
  EXPECT_EQ(h.max(), 16);
  EXPECT_EQ(h.finiteCount(), 12u);
}

TEST(ValueHistogram, IgnoresNonFiniteValues) {
  ValueHistogram h(8);
  const float a[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), 1.5f};
  h.add(a, 3);
  EXPECT_EQ(h.nonFinite(), 2u);
  EXPECT_EQ(h.finiteCount(), 1u);
  EXPECT_EQ(h.min(), 1.5f);
  EXPECT_EQ(h.max(), 1.5f);
  Range r = rangeMinMax(h);
  EXPECT_EQ(r.min, 1.5f);
  EXPECT_EQ(r.max, 1.5f);
}

TEST(RangeMethods, PercentileClipsTheTailToBinEdges) {
  // 1..100 in 8 bins of width 12.5: bin k holds v with 12.5k <= v < 12.5(k+1):
  // 12, 12, 13, 12, 13, 12, 13, 13 values (100 in the last bin).
  ValueHistogram h(8);
  std::vector<float> v;
  for (int i = 1; i <= 100; ++i) v.push_back(static_cast<float>(i));
  h.add(v.data(), 100);
  EXPECT_EQ(h.positive().counts, counts({12, 12, 13, 12, 13, 12, 13, 13}));
  // 90%: 10 values may lie above; the last bin holds 13, so nothing is clipped.
  EXPECT_FLOAT_EQ(rangePercentile(h, 90).max, 100);
  // 80%: 20 may lie above: the last bin (13) goes, the one before would make 26.
  EXPECT_FLOAT_EQ(rangePercentile(h, 80).max, 87.5);
  // 70%: 30: two bins (26) go, a third would make 38.
  EXPECT_FLOAT_EQ(rangePercentile(h, 70).max, 75);
  EXPECT_FLOAT_EQ(rangePercentile(h, 70).min, 1);  // no negative values: the observed min
}

TEST(RangeMethods, EntropyMatchesNumpyReference) {
  // Expected bins from an independent numpy implementation of the TensorRT/MXNet algorithm
  // (reference P with outliers folded into the last bin, Q merged into `levels` groups of
  // bins [g*i/levels, (g+1)*i/levels) and expanded over nonzero bins, both smoothed with eps
  // 1e-4, KL of the normalized pair).
  EXPECT_EQ(entropyThresholdBin({100, 100, 100, 100, 0, 0, 0, 1}, 2), 8);
  EXPECT_EQ(entropyThresholdBin({50, 40, 30, 20, 10, 5, 2, 1, 0, 1, 0, 0, 0, 0, 0, 1}, 4), 5);
  EXPECT_EQ(entropyThresholdBin({1000, 900, 800, 700, 600, 500, 400, 300, 200, 100, 50, 25, 12, 6, 3, 1}, 4), 9);
  EXPECT_EQ(entropyThresholdBin({5, 5, 5, 0}, 4), 3);  // fewer used bins than levels: keep all
  EXPECT_EQ(entropyThresholdBin({0, 9, 7, 5, 3, 2, 1, 1, 0, 0, 0, 1}, 3), 7);
  EXPECT_EQ(entropyThresholdBin({20, 10, 9, 8, 7, 5, 3, 2, 1, 1, 1, 1, 0, 0, 1}, 4), 7);
  // MXNet's grouping (i/levels bins each, remainder in the last group) would pick 7 here.
  EXPECT_EQ(entropyThresholdBin({1, 9, 7, 5, 3, 2, 1, 1, 1, 0, 0, 1, 0, 1}, 4), 5);
}

TEST(RangeMethods, ExactZerosDoNotMoveEntropyOrMseThresholds) {
  // A ReLU-like distribution, then the same with many exact zeros added (as ReLU makes).
  std::vector<float> v;
  for (int i = 1; i <= 4000; ++i) v.push_back(static_cast<float>(std::exp(-i / 400.0) * 6));
  ValueHistogram plain(256), zeros(256);
  plain.add(v.data(), static_cast<int64_t>(v.size()));
  zeros.add(v.data(), static_cast<int64_t>(v.size()));
  std::vector<float> z(50000, 0.0f);
  zeros.add(z.data(), static_cast<int64_t>(z.size()));
  EXPECT_EQ(zeros.exactZeros(), 50000u);
  EXPECT_EQ(rangeEntropy(zeros).max, rangeEntropy(plain).max);
  EXPECT_EQ(rangeMse(zeros).max, rangeMse(plain).max);
  EXPECT_LT(rangeEntropy(plain).max, 6.0f);  // the sparse tail is clipped
}

TEST(RangeMethods, MseTradesClippingForResolution) {
  // Bin units, levels 4: threshold k gives inside error N_in*(k/4)^2/12 plus (c - k)^2 for
  // each value beyond (c = bin center). 10 values in bin 0, one in bin 7 (c = 7.5):
  // k=7: 10*1.75^2/12 + 0.5^2 = 2.80; k=8: 11*4/12 = 3.67; k=6: 1.875 + 2.25 = 4.125.
  EXPECT_EQ(mseThresholdBin({10, 0, 0, 0, 0, 0, 0, 1}, 4), 7);
  // With 10000 values in bin 0 resolution wins: k=1: 52.1 + 42.25; k=2: 208 + 30.25.
  EXPECT_EQ(mseThresholdBin({10000, 0, 0, 0, 0, 0, 0, 1}, 4), 1);
}

TEST(ValueHistogram, UnbinnedKeepsMinMaxOnly) {
  ValueHistogram h(8, false);
  const float a[] = {-2, 5, 1};
  h.add(a, 3);
  EXPECT_EQ(h.min(), -2);
  EXPECT_EQ(h.max(), 5);
  EXPECT_EQ(h.finiteCount(), 3u);
  EXPECT_EQ(h.positive().total(), 0u);
  Range r = computeRange(h, RangeMethod::kMinMax, 0);
  EXPECT_EQ(r.min, -2);
  EXPECT_EQ(r.max, 5);
}

TEST(RangeMethods, MethodNamesRoundTrip) {
  for (auto m : {RangeMethod::kMinMax, RangeMethod::kPercentile, RangeMethod::kEntropy, RangeMethod::kMse})
    EXPECT_EQ(*parseRangeMethod(rangeMethodName(m)), m);
  EXPECT_NE(parseRangeMethod("kl").status().message().find("unknown calibration method 'kl'"), std::string::npos);
}

// x -> Relu -> r -> Mul(r, 2) -> y
Model reluDoubleModel() {
  onnx::ModelProto proto = test::parseText(R"(
    <ir_version: 8, opset_import: ["" : 13]>
    g (float[N, 3] x) => (float[N, 3] y) <float two = {2.0}> {
      r = Relu(x)
      y = Mul(r, two)
    })");
  return std::move(importModel(proto, "")).value();
}

Dataset datasetOf(const std::vector<float>& values, int64_t samples) {
  Dataset d;
  d.addInput("x", arraySource(Tensor::fromValues<float>(DType::kFloat, {samples, 3}, values), "test array"));
  return d;
}

TEST(Calibrate, MinMaxOfEveryValueAcrossBatches) {
  Model model = reluDoubleModel();
  Dataset data = datasetOf({-1, 0.5f, 2, 3, -4, 0.25f, 1, 1, 1}, 3);
  CalibrationOptions options;
  options.batch_size = 1;  // statistics merge over three runs
  auto ranges = calibrate(model, data, options);
  ASSERT_TRUE(ranges.isOk()) << ranges.status().message();
  ASSERT_EQ(ranges->values.size(), 3u);  // x (graph input), r, y; the constant is skipped
  EXPECT_EQ(ranges->values[0].name, "x");
  EXPECT_EQ(ranges->values[0].min, -4);
  EXPECT_EQ(ranges->values[0].max, 3);
  EXPECT_EQ(ranges->values[1].name, "r");
  EXPECT_EQ(ranges->values[1].min, 0);
  EXPECT_EQ(ranges->values[1].max, 3);
  EXPECT_EQ(ranges->values[2].name, "y");
  EXPECT_EQ(ranges->values[2].max, 6);
  EXPECT_EQ(ranges->samples, 3);
  EXPECT_EQ(ranges->method, "minmax");
  EXPECT_EQ(ranges->digest.rfind("fnv1a64:", 0), 0u);
  // Same data, same digest; other data (or fewer samples), another digest.
  auto again = calibrate(model, data, options);
  EXPECT_EQ(again->digest, ranges->digest);
  options.max_samples = 2;
  auto fewer = calibrate(model, data, options);
  EXPECT_NE(fewer->digest, ranges->digest);
  EXPECT_EQ(fewer->values[0].max, 3);
  EXPECT_EQ(fewer->values[0].min, -4);
  EXPECT_EQ(fewer->samples, 2);
}

TEST(Calibrate, PercentileOptionIsChecked) {
  Model model = reluDoubleModel();
  Dataset data = datasetOf({1, 2, 3}, 1);
  CalibrationOptions options;
  options.method = RangeMethod::kPercentile;
  options.percentile = 120;
  EXPECT_NE(calibrate(model, data, options).status().message().find("percentile must be in (0, 100]"), std::string::npos);
}

TEST(RangesFile, RoundTripsExactly) {
  ActivationRanges r;
  r.method = "percentile";
  r.percentile = 99.99;
  r.samples = 500;
  r.digest = "fnv1a64:0123456789abcdef";
  r.values.push_back({"a/b:0", -0.1f, 3.3333333f, -0.2f, 4.0f, false});
  r.values.push_back({"z", 0, 1e-7f, 0, 1e-7f, true});
  r.float_nodes = {"Softmax", "head*"};
  auto back = rangesFromJson(nlohmann::ordered_json::parse(rangesToJson(r).dump(2)));
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(back->method, "percentile");
  EXPECT_EQ(back->percentile, 99.99);
  EXPECT_EQ(back->samples, 500);
  EXPECT_EQ(back->digest, r.digest);
  EXPECT_EQ(back->float_nodes, r.float_nodes);
  ASSERT_EQ(back->values.size(), 2u);
  EXPECT_EQ(back->values[0].name, "a/b:0");
  EXPECT_EQ(back->values[0].max, 3.3333333f);  // floats survive the decimal text bit for bit
  EXPECT_EQ(back->values[0].observed_max, 4.0f);
  EXPECT_EQ(back->values[1].max, 1e-7f);
  EXPECT_TRUE(back->values[1].pinned);
  EXPECT_FALSE(back->values[0].pinned);
}

TEST(RangesFile, ErrorsNameTheKey) {
  auto parse = [](const char* text) { return rangesFromJson(nlohmann::ordered_json::parse(text)).status(); };
  EXPECT_NE(parse(R"({"values": {}})").message().find("'format' must be"), std::string::npos);
  const Status unknown = parse(R"({"format": "nncompress-ranges/1", "values": {}, "float_node": []})");
  EXPECT_NE(unknown.message().find("unknown key 'float_node'"), std::string::npos);
  EXPECT_EQ(unknown.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(parse(R"({"format": "nncompress-ranges/1", "values": {"v": {"min": 2, "max": 1}}})").message().find("value 'v': min is greater than max"),
            std::string::npos);
  EXPECT_NE(parse(R"({"format": "nncompress-ranges/1", "values": {"v": {"max": 1}}})").message().find("value 'v': missing 'min'"),
            std::string::npos);
  EXPECT_NE(parse(R"({"format": "nncompress-ranges/1", "values": {"v": {"min": 0, "max": "1"}}})").message().find("'max' must be a number"),
            std::string::npos);
}

TEST(RangesFile, PinnedRangesAndFloatNodesOverrideCalibration) {
  ActivationRanges calibrated;
  calibrated.values = {{"a", 0, 1, 0, 1, false}, {"b", -1, 1, -1, 1, false}};
  ActivationRanges file;
  file.values = {{"a", 0, 5, 0, 5, true}, {"b", 0, 9, 0, 9, false}, {"c", 0, 2, 0, 2, true}};
  file.float_nodes = {"Softmax"};
  calibrated.applyOverrides(file);
  ASSERT_EQ(calibrated.values.size(), 3u);
  EXPECT_EQ(calibrated.find("a")->max, 5);   // pinned: the file wins
  EXPECT_EQ(calibrated.find("b")->max, 1);   // not pinned: calibration wins
  EXPECT_EQ(calibrated.find("c")->max, 2);   // pinned and new: appended
  EXPECT_EQ(calibrated.float_nodes, std::vector<std::string>{"Softmax"});
}

}  // namespace
}  // namespace nnc

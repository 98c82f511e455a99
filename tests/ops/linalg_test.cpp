// Hand-computed checks of the linalg kernels for semantics the ONNX backend tests miss: MatMul
// broadcasting and 1-D operands, Gemm C shapes, legacy (opset < 13) softmax coercion, reduction
// layouts and empty sets, arg/top-k ties, CumSum flags, Einsum diagonals/ellipsis/implicit output.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

// Runs a one-graph model in ONNX text syntax with named inputs; returns its outputs.
std::vector<Tensor> run(const char* text, NamedTensors inputs, int threads = 1) {
  auto proto = test::parseText(text);
  auto model = importModel(proto, "");
  EXPECT_TRUE(model.isOk()) << model.status().message();
  if (!model) return {};
  auto session = Session::create(*model, {threads, nullptr});
  EXPECT_TRUE(session.isOk()) << session.status().message();
  if (!session) return {};
  auto out = (*session)->run(inputs);
  EXPECT_TRUE(out.isOk()) << out.status().message();
  return out ? std::move(out).value() : std::vector<Tensor>{};
}

std::vector<float> floats(const Tensor& t) {
  return std::vector<float>(t.dataAs<float>(), t.dataAs<float>() + t.elementCount());
}
std::vector<float> iota(int64_t n, float scale = 1.0f, float offset = 0.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = offset + scale * static_cast<float>((i * 7) % 11);
  return v;
}
Tensor f32(std::vector<int64_t> shape, std::vector<float> v) { return Tensor::fromValues<float>(DType::kFloat, std::move(shape), v); }

TEST(LinalgOps, MatMulBroadcastsBatchesAndKeepsOneDimOperandsOut) {
  // A [2,1,2,3] x B [3,3,2] -> [2,3,2,2]; checked against a naive loop.
  auto a = iota(12), b = iota(18, 0.5f, -1.0f);
  auto out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,1,2,3] a, float[3,3,2] b) => (float[2,3,2,2] c) { c = MatMul(a, b) })",
                 {{"a", f32({2, 1, 2, 3}, a)}, {"b", f32({3, 3, 2}, b)}}, 2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{2, 3, 2, 2}));
  auto c = floats(out[0]);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int m = 0; m < 2; ++m)
        for (int n = 0; n < 2; ++n) {
          float s = 0;
          for (int k = 0; k < 3; ++k) s += a[i * 6 + m * 3 + k] * b[j * 6 + k * 2 + n];
          EXPECT_FLOAT_EQ(c[((i * 3 + j) * 2 + m) * 2 + n], s);
        }
  // [3] x [2,3,2] -> [2,2]; [3] x [3] -> scalar.
  out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[3] v, float[2,3,2] b) => (float[2,2] c, float d) { c = MatMul(v, b) d = MatMul(v, v) })",
            {{"v", f32({3}, {1, 2, 3})}, {"b", f32({2, 3, 2}, iota(12))}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(floats(out[0]), (std::vector<float>{1 * 0 + 2 * 3 + 3 * 6, 1 * 7 + 2 * 10 + 3 * 2, 1 * 9 + 2 * 1 + 3 * 4, 1 * 5 + 2 * 8 + 3 * 0}));
  EXPECT_TRUE(out[1].shape.empty());
  EXPECT_FLOAT_EQ(floats(out[1])[0], 14.0f);
}

// Products big enough for the 2-thread paths (row panels, column panels, threaded batch).
TEST(LinalgOps, ThreadedProductsMatchNaiveLoops) {
  auto naive = [](const std::vector<float>& a, const std::vector<float>& b, int batch, int M, int N, int K, bool ta, bool tb) {
    std::vector<double> c(static_cast<size_t>(batch * M * N));
    for (int p = 0; p < batch; ++p)
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
          double s = 0;
          for (int k = 0; k < K; ++k)
            s += double(a[p * M * K + (ta ? k * M + i : i * K + k)]) * double(b[p * K * N + (tb ? j * K + k : k * N + j)]);
          c[static_cast<size_t>((p * M + i) * N + j)] = s;
        }
    return c;
  };
  auto expectClose = [](const std::vector<float>& got, const std::vector<double>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-3 * (1 + std::fabs(want[i]))) << i;
  };
  auto a = iota(2 * 96 * 64, 0.1f, -0.5f), b = iota(64 * 80, 0.2f, -1.0f);
  auto out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,96,64] a, float[64,80] b) => (float[2,96,80] c) { c = MatMul(a, b) })",
                 {{"a", f32({2, 96, 64}, a)}, {"b", f32({64, 80}, b)}}, 2);
  ASSERT_EQ(out.size(), 1u);
  // The batch folds into rows: [192,64] x [64,80] with B shared.
  std::vector<float> b2(b);
  b2.insert(b2.end(), b.begin(), b.end());
  expectClose(floats(out[0]), naive(a, b2, 2, 96, 80, 64, false, false));
  auto ga = iota(128 * 8, 0.3f, -1.0f), gb = iota(512 * 128, 0.05f, -0.25f);
  out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[128,8] a, float[512,128] b) => (float[8,512] c) { c = Gemm<transA: int = 1, transB: int = 1>(a, b) })",
            {{"a", f32({128, 8}, ga)}, {"b", f32({512, 128}, gb)}}, 2);
  ASSERT_EQ(out.size(), 1u);
  expectClose(floats(out[0]), naive(ga, gb, 1, 8, 512, 128, true, true));
  auto ba = iota(12 * 32 * 32, 0.1f, -0.3f), bb = iota(12 * 32 * 32, 0.07f, -0.2f);
  out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[12,32,32] a, float[12,32,32] b) => (float[12,32,32] c) { c = MatMul(a, b) })",
            {{"a", f32({12, 32, 32}, ba)}, {"b", f32({12, 32, 32}, bb)}}, 2);
  ASSERT_EQ(out.size(), 1u);
  expectClose(floats(out[0]), naive(ba, bb, 12, 32, 32, 32, false, false));
}

TEST(LinalgOps, MatMulRejectsMismatchedInnerDims) {
  auto proto = test::parseText(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3] a, float[2,2] b) => (float[2,2] c) { c = MatMul(a, b) })");
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk());
  auto session = Session::create(*model);
  ASSERT_TRUE(session.isOk());
  auto out = (*session)->run({{"a", f32({2, 3}, iota(6))}, {"b", f32({2, 2}, iota(4))}});
  EXPECT_FALSE(out.isOk());
}

TEST(LinalgOps, GemmBroadcastsColumnBias) {
  // C [2,1] broadcasts along the columns; transB; alpha and beta scale.
  auto out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,2] a, float[3,2] b, float[2,1] c) => (float[2,3] y) { y = Gemm<transB: int = 1, alpha: float = 2.0, beta: float = 0.5>(a, b, c) })",
                 {{"a", f32({2, 2}, {1, 2, 3, 4})}, {"b", f32({3, 2}, {1, 0, 0, 1, 1, 1})}, {"c", f32({2, 1}, {10, 20})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(floats(out[0]), (std::vector<float>{2 + 5, 4 + 5, 6 + 5, 6 + 10, 8 + 10, 14 + 10}));
}

TEST(LinalgOps, LegacySoftmaxAndHardmaxCoerceTo2D) {
  // Opset 11, axis 1 on [1,2,2]: one distribution over the last 4 values (opset 13 would use axis 1 only).
  auto out = run(R"(<ir_version: 6, opset_import: ["" : 11]>
g (float[1,2,2] x) => (float[1,2,2] s, float[1,2,2] h) { s = Softmax<axis: int = 1>(x) h = Hardmax<axis: int = 1>(x) })",
                 {{"x", f32({1, 2, 2}, {0, 1, 3, 3})}});
  ASSERT_EQ(out.size(), 2u);
  auto s = floats(out[0]);
  const float z = 1 + std::exp(1.0f) + 2 * std::exp(3.0f);
  EXPECT_NEAR(s[0], 1 / z, 1e-6);
  EXPECT_NEAR(s[3], std::exp(3.0f) / z, 1e-6);
  EXPECT_EQ(floats(out[1]), (std::vector<float>{0, 0, 1, 0}));  // first maximum wins
  out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[1,2,2] x) => (float[1,2,2] h) { h = Hardmax<axis: int = 1>(x) })",
            {{"x", f32({1, 2, 2}, {0, 1, 3, 3})}});
  EXPECT_EQ(floats(out[0]), (std::vector<float>{0, 0, 1, 1}));
}

TEST(LinalgOps, ReductionsOverScatteredAxesAndEmptySets) {
  // ReduceMean over axes {0,2} of [2,3,2] takes the transpose path.
  auto x = iota(12);
  auto out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3,2] x) => (float[3] m, float[2,1,2] l) {
  m = ReduceMean<axes: ints = [0, -1], keepdims: int = 0>(x)
  l = ReduceLogSumExp<axes: ints = [1]>(x) })",
                 {{"x", f32({2, 3, 2}, x)}});
  ASSERT_EQ(out.size(), 2u);
  for (int j = 0; j < 3; ++j)
    EXPECT_FLOAT_EQ(floats(out[0])[j], (x[j * 2] + x[j * 2 + 1] + x[6 + j * 2] + x[6 + j * 2 + 1]) / 4);
  EXPECT_EQ(out[1].shape, (std::vector<int64_t>{2, 1, 2}));
  EXPECT_NEAR(floats(out[1])[1], std::log(std::exp(x[1]) + std::exp(x[3]) + std::exp(x[5])), 1e-5);
  // An empty reduced axis gives the identity; noop_with_empty_axes returns the input.
  out = run(R"(<ir_version: 8, opset_import: ["" : 18]>
g (float[2,0] x, float[2,2] y) => (float[2] s, float[2] mx, float[2,2] same) {
  ax = Constant<value = int64[1] {1}>()
  s = ReduceSum<keepdims: int = 0>(x, ax)
  mx = ReduceMax<keepdims: int = 0>(x, ax)
  same = ReduceSumSquare<noop_with_empty_axes: int = 1>(y) })",
            {{"x", f32({2, 0}, {})}, {"y", f32({2, 2}, {1, 2, 3, 4})}});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(floats(out[0]), (std::vector<float>{0, 0}));
  EXPECT_EQ(floats(out[1])[0], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(floats(out[2]), (std::vector<float>{1, 2, 3, 4}));
}

TEST(LinalgOps, ArgAndTopKTies) {
  auto out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[1,5] x, int64[1] k) => (int64[1] first, int64[1] last, float[1,3] v, int64[1,3] i) {
  first = ArgMax<axis: int = 1, keepdims: int = 0>(x)
  last = ArgMax<axis: int = 1, keepdims: int = 0, select_last_index: int = 1>(x)
  v, i = TopK<largest: int = 0>(x, k) })",
                 {{"x", f32({1, 5}, {2, 5, 1, 5, 1})}, {"k", Tensor::fromValues<int64_t>(DType::kInt64, {1}, {3})}});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].dataAs<int64_t>()[0], 1);
  EXPECT_EQ(out[1].dataAs<int64_t>()[0], 3);
  EXPECT_EQ(floats(out[2]), (std::vector<float>{1, 1, 2}));
  EXPECT_EQ(std::vector<int64_t>(out[3].dataAs<int64_t>(), out[3].dataAs<int64_t>() + 3), (std::vector<int64_t>{2, 4, 0}));
}

TEST(LinalgOps, CumSumExclusiveReverseOnOuterAxis) {
  auto out = run(R"(<ir_version: 8, opset_import: ["" : 14]>
g (float[3,2] x) => (float[3,2] y) {
  ax = Constant<value = int32 {0}>()
  y = CumSum<exclusive: int = 1, reverse: int = 1>(x, ax) })",
                 {{"x", f32({3, 2}, {1, 2, 3, 4, 5, 6})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(floats(out[0]), (std::vector<float>{8, 10, 5, 6, 0, 0}));
}

TEST(LinalgOps, EinsumAttentionDiagonalEllipsisAndImplicitOutput) {
  auto q = iota(2 * 3 * 4, 0.25f), k = iota(2 * 5 * 4, -0.5f, 1.0f);
  auto out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,3,4] q, float[2,5,4] k, float[3,3] m, float[2,1,3,4] e, float[5,4] f) =>
  (float[2,3,5] s, float[3] d, float[2,2,3,5] b, float[4,5] t, float tr) {
  s = Einsum<equation: string = "bid,bjd->bij">(q, k)
  d = Einsum<equation: string = "ii->i">(m)
  b = Einsum<equation: string = "...id, ...jd">(e, k)
  t = Einsum<equation: string = "ji">(m4)
  m4 = Einsum<equation: string = "...ij->...ji">(f43)
  f43 = Einsum<equation: string = "ij->ji">(f)
  tr = Einsum<equation: string = "ii">(m) })",
                 {{"q", f32({2, 3, 4}, q)}, {"k", f32({2, 5, 4}, k)}, {"m", f32({3, 3}, iota(9))},
                  {"e", f32({2, 1, 3, 4}, iota(24, 1.0f, 2.0f))}, {"f", f32({5, 4}, iota(20))}});
  ASSERT_EQ(out.size(), 5u);
  auto s = floats(out[0]);
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 5; ++j) {
        float r = 0;
        for (int d = 0; d < 4; ++d) r += q[(b * 3 + i) * 4 + d] * k[(b * 5 + j) * 4 + d];
        EXPECT_FLOAT_EQ(s[(b * 3 + i) * 5 + j], r);
      }
  auto m = iota(9);
  EXPECT_EQ(floats(out[1]), (std::vector<float>{m[0], m[4], m[8]}));
  // "...id,...jd" with batch [2,1] and [2]: broadcast to [2,2]; implicit output "...ij".
  EXPECT_EQ(out[2].shape, (std::vector<int64_t>{2, 2, 3, 5}));
  auto e = iota(24, 1.0f, 2.0f);
  auto bb = floats(out[2]);
  for (int x = 0; x < 2; ++x)
    for (int y = 0; y < 2; ++y)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 5; ++j) {
          float r = 0;
          for (int d = 0; d < 4; ++d) r += e[(x * 3 + i) * 4 + d] * k[(y * 5 + j) * 4 + d];
          EXPECT_FLOAT_EQ(bb[((x * 2 + y) * 3 + i) * 5 + j], r);
        }
  // "ji" implicitly means "ji->ij": m4 [5,4] (= f) transposes to [4,5]
  EXPECT_EQ(out[3].shape, (std::vector<int64_t>{4, 5}));
  auto f = iota(20);
  EXPECT_EQ(floats(out[3])[1 * 5 + 2], f[2 * 4 + 1]);
  EXPECT_FLOAT_EQ(floats(out[4])[0], m[0] + m[4] + m[8]);
}

// A naive einsum (explicit output, letters only): loops over every assignment of every label.
std::vector<double> naiveEinsum(const std::string& eq, const std::vector<std::vector<float>>& data,
                                const std::vector<std::vector<int64_t>>& shapes, std::vector<int64_t>* out_shape) {
  const size_t arrow = eq.find("->");
  std::vector<std::string> terms;
  for (size_t s = 0;;) {
    size_t c = eq.find(',', s);
    terms.push_back(eq.substr(s, (c == std::string::npos || c > arrow ? arrow : c) - s));
    if (c == std::string::npos || c > arrow) break;
    s = c + 1;
  }
  const std::string out = eq.substr(arrow + 2);
  std::map<char, int64_t> size;
  for (size_t t = 0; t < terms.size(); ++t)
    for (size_t d = 0; d < terms[t].size(); ++d) size[terms[t][d]] = shapes[t][d];
  std::vector<char> labels;
  for (auto& [c, n] : size) labels.push_back(c);
  out_shape->clear();
  for (char c : out) out_shape->push_back(size[c]);
  std::vector<double> result(static_cast<size_t>(std::max<int64_t>(1, [&] { int64_t p = 1; for (auto d : *out_shape) p *= d; return p; }())));
  std::map<char, int64_t> at;
  for (char c : labels) at[c] = 0;
  while (true) {
    double prod = 1;
    for (size_t t = 0; t < terms.size(); ++t) {
      int64_t off = 0;
      for (size_t d = 0; d < terms[t].size(); ++d) off = off * shapes[t][d] + at[terms[t][d]];
      prod *= data[t][static_cast<size_t>(off)];
    }
    int64_t o = 0;
    for (char c : out) o = o * size[c] + at[c];
    result[static_cast<size_t>(o)] += prod;
    size_t i = labels.size();
    while (i > 0 && ++at[labels[i - 1]] == size[labels[i - 1]]) at[labels[--i]] = 0;
    if (i == 0) break;
  }
  return result;
}

TEST(LinalgOps, EinsumMatchesNaiveEvaluation) {
  struct Case {
    const char* eq;
    std::vector<std::vector<int64_t>> shapes;
  };
  const std::vector<Case> cases = {
      {"ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 2}}},
      {"abc,cd->abd", {{2, 3, 4}, {4, 5}}},
      {"bik,bjk->bji", {{2, 3, 4}, {2, 5, 4}}},
      {"ijk,jil->kl", {{2, 3, 4}, {3, 2, 5}}},
      {"iij,jk->ik", {{3, 3, 2}, {2, 4}}},
      {"ab,cd->abcd", {{2, 3}, {2, 2}}},
      {"abc->ca", {{2, 3, 4}}},
      {"bhqd,bhkd->bhqk", {{1, 2, 3, 4}, {1, 2, 5, 4}}},
  };
  for (const Case& c : cases) {
    std::string text = R"(<ir_version: 8, opset_import: ["" : 13]>
g ()";
    NamedTensors inputs;
    std::vector<std::vector<float>> data;
    std::string args;
    for (size_t i = 0; i < c.shapes.size(); ++i) {
      std::string name = std::to_string(i);
      name.insert(name.begin(), 'x');
      int64_t n = 1;
      std::string dims;
      for (auto d : c.shapes[i]) {
        n *= d;
        if (!dims.empty()) dims += ',';
        dims += std::to_string(d);
      }
      data.push_back(iota(n, 0.25f * static_cast<float>(i + 1), -0.5f));
      inputs.emplace_back(name, f32(c.shapes[i], data.back()));
      if (i) text += ", ", args += ", ";
      text += "float[";
      text += dims;
      text += "] ";
      text += name;
      args += name;
    }
    text += ") => (float[] y) { y = Einsum<equation: string = \"" + std::string(c.eq) + "\">(" + args + ") }";
    std::vector<int64_t> shape;
    auto want = naiveEinsum(c.eq, data, c.shapes, &shape);
    auto out = run(text.c_str(), inputs, 2);
    ASSERT_EQ(out.size(), 1u) << c.eq;
    EXPECT_EQ(out[0].shape, shape) << c.eq;
    auto got = floats(out[0]);
    ASSERT_EQ(got.size(), want.size()) << c.eq;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << c.eq << " at " << i;
  }
}

TEST(LinalgOps, DetOfBatch) {
  auto out = run(R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[2,2,2] x) => (float[2] d) { d = Det(x) })",
                 {{"x", f32({2, 2, 2}, {1, 2, 3, 4, 2, 0, 0, 3})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NEAR(floats(out[0])[0], -2.0f, 1e-5);
  EXPECT_NEAR(floats(out[0])[1], 6.0f, 1e-5);
}

}  // namespace
}  // namespace nnc

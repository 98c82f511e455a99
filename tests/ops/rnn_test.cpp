// LSTM, GRU and RNN against a plain scalar reference written here from the spec (bidirectional,
// reverse, sequence_lens, clip, input_forget, peepholes, activations with alpha/beta, layout 1),
// plus hand-computed cases. The backend node tests cover only the default configurations.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <sstream>

#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

struct RnnCase {
  RnnCase(std::string op_type, int64_t s, int64_t b, int64_t i, int64_t h, std::string dir, int lay = 0)
      : op(std::move(op_type)), seq(s), batch(b), input(i), hidden(h), direction(std::move(dir)), layout(lay) {}
  std::string op;  // LSTM, GRU, RNN
  int64_t seq = 3, batch = 2, input = 2, hidden = 3;
  std::string direction = "forward";
  int layout = 0;
  std::vector<int64_t> lens;  // empty: no sequence_lens input
  bool bias = true, initial = true, peepholes = false;
  std::vector<std::string> acts;
  std::vector<float> alphas, betas;
  float clip = 0.0f;  // 0: no clip attribute
  bool input_forget = false, linear_before_reset = false;
};

int64_t gateCount(const std::string& op) { return op == "LSTM" ? 4 : op == "GRU" ? 3 : 1; }

std::vector<float> randomValues(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
  }
  return v;
}

std::function<double(double)> refActivation(const std::string& name, double alpha, double beta) {
  if (name == "Sigmoid") return [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  if (name == "Tanh") return [](double x) { return std::tanh(x); };
  if (name == "Relu") return [](double x) { return x > 0 ? x : 0.0; };
  if (name == "HardSigmoid") return [=](double x) { return std::min(1.0, std::max(0.0, alpha * x + beta)); };
  if (name == "LeakyRelu") return [=](double x) { return x >= 0 ? x : alpha * x; };
  if (name == "ScaledTanh") return [=](double x) { return alpha * std::tanh(beta * x); };
  if (name == "Affine") return [=](double x) { return alpha * x + beta; };
  ADD_FAILURE() << "no reference for " << name;
  return [](double x) { return x; };
}

struct RnnData {
  std::vector<float> x, w, r, b, h0, c0, p;  // layout 0
};

struct RnnExpected {
  std::vector<double> y, yh, yc;  // layout 0: [seq, dirs, batch, hidden], [dirs, batch, hidden]
};

// The spec's equations, one scalar at a time.
RnnExpected reference(const RnnCase& c, const RnnData& d) {
  const int64_t dirs = c.direction == "bidirectional" ? 2 : 1, H = c.hidden, G = gateCount(c.op) * H;
  const size_t per_dir = c.op == "LSTM" ? 3 : c.op == "GRU" ? 2 : 1;
  std::vector<std::string> names = c.acts;
  if (names.empty()) {
    names = c.op == "LSTM" ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
          : c.op == "GRU"  ? std::vector<std::string>{"Sigmoid", "Tanh"}
                           : std::vector<std::string>{"Tanh"};
    if (dirs == 2) {
      const std::vector<std::string> one = names;
      names.insert(names.end(), one.begin(), one.end());
    }
  }
  std::vector<std::function<double(double)>> fns;
  size_t ai = 0, bi = 0;
  for (const auto& n : names) {
    double alpha = 0, beta = 0;
    if (n == "HardSigmoid" || n == "ScaledTanh" || n == "Affine") {
      alpha = c.alphas.at(ai++);
      beta = c.betas.at(bi++);
    } else if (n == "LeakyRelu") {
      alpha = c.alphas.at(ai++);
    }
    fns.push_back(refActivation(n, alpha, beta));
  }
  auto clip = [&](double v) { return c.clip > 0 ? std::min<double>(c.clip, std::max<double>(-c.clip, v)) : v; };
  RnnExpected e;
  e.y.assign(static_cast<size_t>(c.seq * dirs * c.batch * H), 0.0);
  e.yh.assign(static_cast<size_t>(dirs * c.batch * H), 0.0);
  e.yc = e.yh;
  for (int64_t dir = 0; dir < dirs; ++dir) {
    const bool reverse = c.direction == "reverse" || dir == 1;
    auto f = [&](size_t k, double v) { return fns[dir * per_dir + k](clip(v)); };
    for (int64_t b = 0; b < c.batch; ++b) {
      const int64_t len = c.lens.empty() ? c.seq : c.lens[b];
      std::vector<double> h(H, 0.0), cell(H, 0.0);
      if (c.initial)
        for (int64_t j = 0; j < H; ++j) {
          h[j] = d.h0[(dir * c.batch + b) * H + j];
          if (c.op == "LSTM") cell[j] = d.c0[(dir * c.batch + b) * H + j];
        }
      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = reverse ? len - 1 - s : s;
        // xw[g] = X W^T + Wb; hr[g] = H R^T + Rb for each of the gate rows
        std::vector<double> xw(G, 0.0), hr(G, 0.0);
        for (int64_t g = 0; g < G; ++g) {
          for (int64_t k = 0; k < c.input; ++k) xw[g] += d.x[(t * c.batch + b) * c.input + k] * d.w[(dir * G + g) * c.input + k];
          for (int64_t k = 0; k < H; ++k) hr[g] += h[k] * d.r[(dir * G + g) * H + k];
          if (c.bias) {
            xw[g] += d.b[dir * 2 * G + g];
            hr[g] += d.b[dir * 2 * G + G + g];
          }
        }
        std::vector<double> nh(H);
        if (c.op == "RNN") {
          for (int64_t j = 0; j < H; ++j) nh[j] = f(0, xw[j] + hr[j]);
        } else if (c.op == "LSTM") {
          auto peep = [&](int64_t k, int64_t j) { return c.peepholes ? d.p[dir * 3 * H + k * H + j] : 0.0; };
          for (int64_t j = 0; j < H; ++j) {
            const double i = f(0, xw[j] + hr[j] + peep(0, j) * cell[j]);
            const double fg = c.input_forget ? 1.0 - i : f(0, xw[2 * H + j] + hr[2 * H + j] + peep(2, j) * cell[j]);
            const double cc = f(1, xw[3 * H + j] + hr[3 * H + j]);
            cell[j] = fg * cell[j] + i * cc;
            const double o = f(0, xw[H + j] + hr[H + j] + peep(1, j) * cell[j]);
            nh[j] = o * fns[dir * per_dir + 2](cell[j]);
          }
        } else {  // GRU
          std::vector<double> z(H), r(H);
          for (int64_t j = 0; j < H; ++j) {
            z[j] = f(0, xw[j] + hr[j]);
            r[j] = f(0, xw[H + j] + hr[H + j]);
          }
          for (int64_t j = 0; j < H; ++j) {
            double cand;
            if (c.linear_before_reset) {
              cand = xw[2 * H + j] + r[j] * hr[2 * H + j];
            } else {
              double rh = c.bias ? d.b[dir * 2 * G + G + 2 * H + j] : 0.0;
              for (int64_t k = 0; k < H; ++k) rh += r[k] * h[k] * d.r[(dir * G + 2 * H + j) * H + k];
              cand = xw[2 * H + j] + rh;
            }
            nh[j] = (1 - z[j]) * f(1, cand) + z[j] * h[j];
          }
        }
        h = nh;
        for (int64_t j = 0; j < H; ++j) e.y[((t * dirs + dir) * c.batch + b) * H + j] = h[j];
      }
      for (int64_t j = 0; j < H; ++j) {
        e.yh[(dir * c.batch + b) * H + j] = len == 0 ? 0.0 : h[j];
        e.yc[(dir * c.batch + b) * H + j] = len == 0 ? 0.0 : cell[j];
      }
    }
  }
  return e;
}

std::string floatList(const std::vector<float>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  return s.str();
}

// Batch-first copies: [A, B, rest] -> [B, A, rest].
template <typename T>
std::vector<T> swap01(const std::vector<T>& v, int64_t a, int64_t b, int64_t rest) {
  std::vector<T> out(v.size());
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      for (int64_t k = 0; k < rest; ++k) out[(j * a + i) * rest + k] = v[(i * b + j) * rest + k];
  return out;
}

void expectClose(const Tensor& actual, const std::vector<double>& expected, const std::string& what) {
  ASSERT_EQ(actual.elementCount(), static_cast<int64_t>(expected.size())) << what;
  const float* a = actual.dataAs<float>();
  for (size_t i = 0; i < expected.size(); ++i) ASSERT_NEAR(a[i], expected[i], 1e-5 + 1e-4 * std::fabs(expected[i])) << what << " at " << i;
}

void runCase(const RnnCase& c) {
  const int64_t dirs = c.direction == "bidirectional" ? 2 : 1, H = c.hidden, G = gateCount(c.op) * H;
  RnnData d;
  d.x = randomValues(static_cast<size_t>(c.seq * c.batch * c.input), 1);
  d.w = randomValues(static_cast<size_t>(dirs * G * c.input), 2);
  d.r = randomValues(static_cast<size_t>(dirs * G * H), 3);
  d.b = randomValues(static_cast<size_t>(dirs * 2 * G), 4);
  d.h0 = randomValues(static_cast<size_t>(dirs * c.batch * H), 5);
  d.c0 = randomValues(static_cast<size_t>(dirs * c.batch * H), 6);
  d.p = randomValues(static_cast<size_t>(dirs * 3 * H), 7);
  const RnnExpected e = reference(c, d);

  std::ostringstream attrs;
  attrs << "hidden_size = " << H << ", direction = \"" << c.direction << "\", layout = " << c.layout;
  if (!c.acts.empty()) {
    attrs << ", activations = [";
    for (size_t i = 0; i < c.acts.size(); ++i) attrs << (i ? ", " : "") << '"' << c.acts[i] << '"';
    attrs << "]";
  }
  if (!c.alphas.empty()) attrs << ", activation_alpha = [" << floatList(c.alphas) << "]";
  if (!c.betas.empty()) attrs << ", activation_beta = [" << floatList(c.betas) << "]";
  if (c.clip > 0) attrs << ", clip = " << c.clip;
  if (c.input_forget) attrs << ", input_forget = 1";
  if (c.linear_before_reset) attrs << ", linear_before_reset = 1";
  const bool lstm = c.op == "LSTM";
  std::string outs = lstm ? "Y, Yh, Yc" : "Y, Yh";
  std::string text = std::string("<ir_version: 8, opset_import: [\"\" : 14]>\ng (float[a,b,c] X, float[d,e,f] W, float[g,h,i] R, float[j,k] B, int32[l] L, float[m,n,o] H0") +
                     (lstm ? ", float[p,q,r] C0, float[s,t] P" : "") + ") => (float[u,v,w,x] Y, float[y,z,zz] Yh" +
                     (lstm ? ", float[y,z,zz] Yc" : "") + ") { " + outs +
                     " = " + c.op + " <" + attrs.str() + "> (X, W, R, B, L, H0" + (lstm ? ", C0, P" : "") + ") }";
  auto proto = test::parseText(text.c_str());
  // Omitted optional inputs: clear the names (the text syntax has no empty input).
  auto* node = proto.mutable_graph()->mutable_node(0);
  if (!c.bias) node->set_input(3, "");
  if (c.lens.empty()) node->set_input(4, "");
  if (!c.initial) {
    node->set_input(5, "");
    if (lstm) node->set_input(6, "");
  }
  if (lstm && !c.peepholes) node->set_input(7, "");
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk()) << model.status().message();
  auto session = Session::create(*model);
  ASSERT_TRUE(session.isOk()) << session.status().message();

  const bool bf = c.layout == 1;
  auto state = [&](const std::vector<float>& v) {
    return Tensor::fromValues<float>(DType::kFloat, bf ? std::vector<int64_t>{c.batch, dirs, H} : std::vector<int64_t>{dirs, c.batch, H},
                                     bf ? swap01(v, dirs, c.batch, H) : v);
  };
  std::vector<int32_t> lens(c.lens.begin(), c.lens.end());
  NamedTensors feed = {
      {"X", Tensor::fromValues<float>(DType::kFloat, bf ? std::vector<int64_t>{c.batch, c.seq, c.input} : std::vector<int64_t>{c.seq, c.batch, c.input},
                                      bf ? swap01(d.x, c.seq, c.batch, c.input) : d.x)},
      {"W", Tensor::fromValues<float>(DType::kFloat, {dirs, G, c.input}, d.w)},
      {"R", Tensor::fromValues<float>(DType::kFloat, {dirs, G, H}, d.r)},
      {"B", Tensor::fromValues<float>(DType::kFloat, {dirs, 2 * G}, d.b)},
      {"L", Tensor::fromValues<int32_t>(DType::kInt32, {c.batch}, lens.empty() ? std::vector<int32_t>(c.batch, 0) : lens)},
      {"H0", state(d.h0)}};
  if (lstm) {
    feed.emplace_back("C0", state(d.c0));
    feed.emplace_back("P", Tensor::fromValues<float>(DType::kFloat, {dirs, 3 * H}, d.p));
  }
  auto out = (*session)->run(feed);
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const std::vector<int64_t> y_shape = bf ? std::vector<int64_t>{c.batch, c.seq, dirs, H} : std::vector<int64_t>{c.seq, dirs, c.batch, H};
  EXPECT_EQ((*out)[0].shape, y_shape);
  // Layout 1: Y [seq, dirs, batch, H] -> [batch, seq, dirs, H]; states [dirs, batch, H] -> [batch, dirs, H].
  std::vector<double> y = e.y;
  if (bf) y = swap01(e.y, c.seq * dirs, c.batch, H);
  expectClose((*out)[0], y, "Y");
  expectClose((*out)[1], bf ? swap01(e.yh, dirs, c.batch, H) : e.yh, "Y_h");
  if (lstm) expectClose((*out)[2], bf ? swap01(e.yc, dirs, c.batch, H) : e.yc, "Y_c");
}

TEST(RnnOps, LstmBidirectionalWithSequenceLengthsAndPeepholes) {
  RnnCase c("LSTM", 4, 3, 2, 3, "bidirectional");
  c.lens = {4, 1, 2};
  c.peepholes = true;
  runCase(c);
}

TEST(RnnOps, LstmReverseClipInputForgetZeroLength) {
  // A zero-length sequence gives zeros in Y, Y_h and Y_c (as ONNX Runtime).
  RnnCase c("LSTM", 3, 3, 4, 2, "reverse");
  c.lens = {2, 0, 3};
  c.clip = 0.5f;
  c.input_forget = true;
  runCase(c);
}

TEST(RnnOps, LstmActivationsTakeAlphaBetaInOrder) {
  RnnCase c("LSTM", 3, 2, 2, 3, "bidirectional");
  c.acts = {"HardSigmoid", "LeakyRelu", "ScaledTanh", "Sigmoid", "Affine", "Relu"};
  c.alphas = {0.3f, 0.2f, 0.9f, 0.7f};
  c.betas = {0.4f, 1.1f, -0.1f};
  c.initial = false;
  runCase(c);
}

TEST(RnnOps, LstmBatchFirstLayoutBidirectional) {
  RnnCase c("LSTM", 3, 2, 3, 4, "bidirectional", 1);
  c.lens = {3, 2};
  c.peepholes = true;
  runCase(c);
}

TEST(RnnOps, GruBidirectionalLinearBeforeReset) {
  RnnCase c("GRU", 4, 3, 2, 3, "bidirectional");
  c.lens = {1, 4, 3};
  c.linear_before_reset = true;
  runCase(c);
}

TEST(RnnOps, GruReverseResetBeforeLinearWithClip) {
  RnnCase c("GRU", 3, 2, 3, 4, "reverse");
  c.clip = 0.7f;
  runCase(c);
  c.layout = 1;
  c.lens = {2, 3};
  runCase(c);
}

TEST(RnnOps, RnnBidirectionalPerDirectionActivations) {
  RnnCase c("RNN", 3, 3, 2, 3, "bidirectional");
  c.lens = {3, 0, 2};
  c.acts = {"Relu", "Tanh"};
  runCase(c);
}

// Hand-computed: one hidden unit, Relu, H_t = relu(x_t*1 + H_{t-1}*0.5).
TEST(RnnOps, SimpleRnnByHand) {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 14]>
g (float[3,1,1] X) => (float[3,1,1,1] Y, float[1,1,1] Yh)
  <float[1,1,1] W = {1.0}, float[1,1,1] R = {0.5}>
{ Y, Yh = RNN <hidden_size = 1, activations = ["Relu"]> (X, W, R) }
)");
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk()) << model.status().message();
  auto session = Session::create(*model);
  ASSERT_TRUE(session.isOk()) << session.status().message();
  auto out = (*session)->run({{"X", Tensor::fromValues<float>(DType::kFloat, {3, 1, 1}, {1.0f, 2.0f, -4.0f})}});
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const float* y = (*out)[0].dataAs<float>();
  EXPECT_FLOAT_EQ(y[0], 1.0f);   // relu(1)
  EXPECT_FLOAT_EQ(y[1], 2.5f);   // relu(2 + 0.5)
  EXPECT_FLOAT_EQ(y[2], 0.0f);   // relu(-4 + 1.25)
  EXPECT_FLOAT_EQ((*out)[1].dataAs<float>()[0], 0.0f);
}

TEST(RnnOps, BadShapesAndActivationsAreErrors) {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 14]>
g (float[2,1,3] X, float[1,8,3] W, float[1,8,2] R) => (float Yh)
{ Y, Yh = LSTM <hidden_size = 3> (X, W, R) }
)");
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk());
  auto session = Session::create(*model);
  ASSERT_TRUE(session.isOk());
  auto out = (*session)->run({{"X", Tensor::fromValues<float>(DType::kFloat, {2, 1, 3}, std::vector<float>(6, 0.0f))},
                              {"W", Tensor::fromValues<float>(DType::kFloat, {1, 8, 3}, std::vector<float>(24, 0.0f))},
                              {"R", Tensor::fromValues<float>(DType::kFloat, {1, 8, 2}, std::vector<float>(16, 0.0f))}});
  ASSERT_FALSE(out.isOk());
  EXPECT_NE(out.status().message().find("W must have shape [1,12,3]"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace nnc

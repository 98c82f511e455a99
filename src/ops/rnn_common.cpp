// Attribute and input checks shared by LSTM, GRU and RNN (see rnn_common.h), and the family's
// one registration function.
#include "rnn_common.h"

#include <cctype>

namespace nnc::ops {
namespace rnn {
namespace {

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Parses one activation name; takes alpha/beta from the lists in order when the function has
// them, else ONNX Runtime's defaults.
bool parseActivation(const std::string& name, std::vector<float>::const_iterator& alpha, std::vector<float>::const_iterator alpha_end,
                     std::vector<float>::const_iterator& beta, std::vector<float>::const_iterator beta_end, Activation& out) {
  struct Known {
    const char* name;
    Activation::Kind kind;
    int params;  // 0: none, 1: alpha, 2: alpha and beta
    float alpha, beta;
  };
  static const Known kKnown[] = {
      {"relu", Activation::kRelu, 0, 0, 0},           {"tanh", Activation::kTanh, 0, 0, 0},
      {"sigmoid", Activation::kSigmoid, 0, 0, 0},     {"affine", Activation::kAffine, 2, 1.0f, 0.0f},
      {"leakyrelu", Activation::kLeakyRelu, 1, 0.01f, 0}, {"thresholdedrelu", Activation::kThresholdedRelu, 1, 1.0f, 0},
      {"scaledtanh", Activation::kScaledTanh, 2, 1.0f, 1.0f}, {"hardsigmoid", Activation::kHardSigmoid, 2, 0.2f, 0.5f},
      {"elu", Activation::kElu, 1, 1.0f, 0},          {"softsign", Activation::kSoftsign, 0, 0, 0},
      {"softplus", Activation::kSoftplus, 0, 0, 0},
  };
  const std::string key = lower(name);
  for (const Known& k : kKnown) {
    if (key != k.name) continue;
    out.kind = k.kind;
    out.alpha = k.alpha;
    out.beta = k.beta;
    if (k.params >= 1 && alpha != alpha_end) out.alpha = *alpha++;
    if (k.params >= 2 && beta != beta_end) out.beta = *beta++;
    return true;
  }
  return false;
}

}  // namespace

Status checkShape(const KernelContext& ctx, const Tensor* t, const std::vector<int64_t>& shape, const char* what) {
  if (t != nullptr && t->shape != shape)
    return ctx.fail(std::string(what) + " must have shape " + shapeToString(shape) + ", got " + shapeToString(t->shape));
  return Status::ok();
}

Expected<Config> readConfig(const KernelContext& ctx, int64_t gates, const std::vector<std::string>& default_acts) {
  Config c;
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* w, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(const Tensor* r, ctx.requiredInput(2));
  if (x->dtype != w->dtype || x->dtype != r->dtype) return ctx.fail("X, W and R must have the same type");
  if (x->shape.size() != 3) return ctx.fail("X must have rank 3, got " + shapeToString(x->shape));
  if (w->shape.size() != 3 || r->shape.size() != 3) return ctx.fail("W and R must have rank 3");

  const std::string direction = ctx.attrString("direction", "forward");
  if (direction == "bidirectional") {
    c.directions = 2;
  } else if (direction == "reverse") {
    c.reverse_only = true;
  } else if (direction != "forward") {
    return ctx.fail("unknown direction '" + direction + "'");
  }
  const int64_t layout = ctx.attrInt("layout", 0);
  if (layout != 0 && layout != 1) return ctx.fail("layout must be 0 or 1");
  c.layout_batch_first = layout == 1;
  c.seq = c.layout_batch_first ? x->shape[1] : x->shape[0];
  c.batch = c.layout_batch_first ? x->shape[0] : x->shape[1];
  c.input = x->shape[2];
  c.hidden = ctx.hasAttr("hidden_size") ? ctx.attrInt("hidden_size", 0) : r->shape[2];
  if (c.hidden <= 0) return ctx.fail("hidden_size must be positive");
  NNC_RETURN_IF_ERROR(checkShape(ctx, w, {c.directions, gates * c.hidden, c.input}, "W"));
  NNC_RETURN_IF_ERROR(checkShape(ctx, r, {c.directions, gates * c.hidden, c.hidden}, "R"));
  NNC_RETURN_IF_ERROR(checkShape(ctx, ctx.input(3), {c.directions, 2 * gates * c.hidden}, "B"));
  NNC_RETURN_IF_ERROR(checkShape(ctx, ctx.input(5), c.stateShape(), "initial_h"));
  for (size_t i : {3, 5})
    if (ctx.input(i) != nullptr && ctx.input(i)->dtype != x->dtype) return ctx.fail("B and initial_h must have X's type");

  c.lengths.assign(static_cast<size_t>(c.batch), c.seq);
  if (const Tensor* lens = ctx.input(4)) {
    NNC_ASSIGN_OR_RETURN(std::vector<int64_t> values, readInts(*lens, "sequence_lens"));
    if (static_cast<int64_t>(values.size()) != c.batch)
      return ctx.fail("sequence_lens must have " + std::to_string(c.batch) + " values, got " + std::to_string(values.size()));
    for (int64_t v : values)
      if (v < 0 || v > c.seq) return ctx.fail("sequence_lens values must be in [0, " + std::to_string(c.seq) + "], got " + std::to_string(v));
    c.lengths = values;
  }
  c.max_len = c.lengths.empty() ? 0 : *std::max_element(c.lengths.begin(), c.lengths.end());
  c.all_full = std::all_of(c.lengths.begin(), c.lengths.end(), [&](int64_t v) { return v == c.seq; });

  if (ctx.hasAttr("clip")) {
    c.has_clip = true;
    c.clip = ctx.attrFloat("clip", 0.0f);
    if (!(c.clip > 0.0f)) return ctx.fail("clip must be positive");
  }

  std::vector<std::string> names;
  if (const Attribute* a = ctx.node().attr("activations")) names = a->strings;
  const size_t per_dir = default_acts.size();
  if (names.empty()) {
    for (int64_t d = 0; d < c.directions; ++d) names.insert(names.end(), default_acts.begin(), default_acts.end());
  } else if (c.directions == 2 && names.size() == per_dir) {
    names.insert(names.end(), names.begin(), names.end());  // one list for both directions (ONNX Runtime accepts it)
  }
  if (names.size() != per_dir * static_cast<size_t>(c.directions))
    return ctx.fail("activations must list " + std::to_string(per_dir * static_cast<size_t>(c.directions)) + " functions, got " +
                    std::to_string(names.size()));
  const std::vector<float> alphas = ctx.attrFloats("activation_alpha"), betas = ctx.attrFloats("activation_beta");
  auto alpha = alphas.cbegin();
  auto beta = betas.cbegin();
  for (const std::string& name : names) {
    Activation act;
    if (!parseActivation(name, alpha, alphas.cend(), beta, betas.cend(), act))
      return ctx.unsupportedHere("unknown activation function '" + name + "'");
    c.activations.push_back(act);
  }
  return c;
}

}  // namespace rnn

void registerRnnOps(OpRegistry& registry) {
  rnn::registerLstm(registry);
  rnn::registerGru(registry);
  rnn::registerSimpleRnn(registry);
  rnn::registerControlFlow(registry);
}

}  // namespace nnc::ops

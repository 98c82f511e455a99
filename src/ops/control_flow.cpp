// Control flow over tensors: If (opsets 1-21), Loop (1-21), Scan (8 with its batch axis and
// sequence_lens; 9-21 with scan_input/output_axes and directions). Bodies run through
// ctx.runSubgraph and see outer values through the session's frames. Values pass through
// unchanged (native_half). Sequence/optional/map-typed values are not supported by the runtime.
#include <limits>

#include "rnn_common.h"

namespace nnc::ops::rnn {
namespace {

// Sequence/optional/map values cannot be held by the runtime's tensors: say so up front.
Status tensorsOnly(const KernelContext& ctx, const Graph& body) {
  auto check = [&](const Value* v, const char* what) -> Status {
    using K = ValueType::Kind;
    const K kind = v->type.kind;
    if (kind == K::kSequence || kind == K::kOptional || kind == K::kMap || kind == K::kSparseTensor)
      return ctx.unsupportedHere(std::string("subgraph ") + what + " '" + v->name() +
                                 "' is a sequence/optional/map/sparse value; the runtime supports tensors only");
    return Status::ok();
  };
  for (const Value* v : body.inputs()) NNC_RETURN_IF_ERROR(check(v, "input"));
  for (const Value* v : body.outputs()) NNC_RETURN_IF_ERROR(check(v, "output"));
  return Status::ok();
}

Expected<std::vector<Tensor>> runBody(const KernelContext& ctx, const Graph& body, std::vector<Tensor> inputs) {
  auto outs = ctx.runSubgraph(body, std::move(inputs));
  if (!outs) return outs.status().withContext(ctx.node().describe());
  if (outs->size() != body.outputs().size()) return ctx.fail("subgraph returned the wrong number of outputs");
  return outs;
}

Expected<bool> readBool(const KernelContext& ctx, const Tensor& t, const char* what) {
  if (t.elementCount() != 1) return ctx.fail(std::string(what) + " must have one element, got shape " + shapeToString(t.shape));
  if (t.dtype == DType::kBool) return t.dataAs<uint8_t>()[0] != 0;
  NNC_ASSIGN_OR_RETURN(std::vector<double> v, readDoubles(t, what));
  return v[0] != 0.0;
}

// Bytes per element for byte-wise slicing and stacking (0: strings and 4-bit types).
size_t elementBytes(DType t) {
  const int bits = dtypeBits(t);
  return bits > 0 && bits % 8 == 0 ? static_cast<size_t>(bits / 8) : 0;
}

// t[..., index, ...] along `axis` (the axis removed).
Tensor sliceAxis(const Tensor& t, int64_t axis, int64_t index, size_t esize) {
  const int64_t outer = product(t.shape, 0, static_cast<size_t>(axis));
  const int64_t len = t.shape[static_cast<size_t>(axis)];
  const size_t inner = static_cast<size_t>(product(t.shape, static_cast<size_t>(axis) + 1)) * esize;
  std::vector<int64_t> shape = t.shape;
  shape.erase(shape.begin() + axis);
  uint8_t* out = nullptr;
  Tensor result = allocate<uint8_t>(t.dtype, shape, &out);
  const uint8_t* in = t.bytes();
  for (int64_t o = 0; o < outer; ++o) std::memcpy(out + o * inner, in + (o * len + index) * inner, inner);
  return result;
}

// Stacks same-shaped parts along a new `axis`; part i goes to position n-1-i when reversed.
Expected<Tensor> stack(const KernelContext& ctx, const std::vector<Tensor>& parts, int64_t axis, bool reversed) {
  const Tensor& first = parts.front();
  for (const Tensor& p : parts)
    if (p.dtype != first.dtype || p.shape != first.shape)
      return ctx.fail("scan output slices differ between iterations: " + shapeToString(first.shape) + " vs " + shapeToString(p.shape));
  const size_t esize = elementBytes(first.dtype);
  if (esize == 0) return ctx.unsupportedHere("scan outputs of type " + dtypeName(first.dtype) + " are not supported");
  NNC_ASSIGN_OR_RETURN(int64_t a, normalizeAxis(axis, static_cast<int64_t>(first.shape.size()) + 1));
  const int64_t n = static_cast<int64_t>(parts.size());
  std::vector<int64_t> shape = first.shape;
  shape.insert(shape.begin() + a, n);
  const int64_t outer = product(first.shape, 0, static_cast<size_t>(a));
  const size_t inner = static_cast<size_t>(product(first.shape, static_cast<size_t>(a))) * esize;
  uint8_t* out = nullptr;
  Tensor result = allocate<uint8_t>(first.dtype, shape, &out);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t pos = reversed ? n - 1 - i : i;
    const uint8_t* in = parts[static_cast<size_t>(i)].bytes();
    for (int64_t o = 0; o < outer; ++o) std::memcpy(out + (o * n + pos) * inner, in + o * inner, inner);
  }
  return result;
}

// A scan output of zero iterations: the body output's declared type with a 0-sized axis.
Tensor emptyStack(const Value& body_output, int64_t axis) {
  const ValueType& type = body_output.type;
  DType dtype = dtypeFromOnnx(type.elem_type).value_or(DType::kFloat);
  std::vector<int64_t> shape;
  bool known = type.has_shape;
  for (const Dim& d : type.dims) {
    if (!d.value) known = false;
    shape.push_back(d.value.value_or(0));
  }
  if (!known) shape.clear();
  auto a = normalizeAxis(axis, static_cast<int64_t>(shape.size()) + 1);
  shape.insert(shape.begin() + (a ? *a : 0), 0);
  uint8_t* data = nullptr;
  return Tensor::zeros(dtype, shape, &data);
}

Status ifOp(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* cond, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(bool taken, readBool(ctx, *cond, "cond"));
  const Graph* branch = ctx.attrGraph(taken ? "then_branch" : "else_branch");
  if (branch == nullptr) return ctx.fail(taken ? "missing then_branch" : "missing else_branch");
  NNC_RETURN_IF_ERROR(tensorsOnly(ctx, *branch));
  NNC_ASSIGN_OR_RETURN(std::vector<Tensor> outs, runBody(ctx, *branch, {}));
  if (outs.size() != ctx.outputCount())
    return ctx.fail("branch has " + std::to_string(outs.size()) + " outputs, the node " + std::to_string(ctx.outputCount()));
  for (size_t i = 0; i < outs.size(); ++i) ctx.setOutput(i, std::move(outs[i]));  // shapes may differ by branch
  return Status::ok();
}

Status loop(KernelContext& ctx) {
  const Graph* body = ctx.attrGraph("body");
  if (body == nullptr) return ctx.fail("missing body");
  NNC_RETURN_IF_ERROR(tensorsOnly(ctx, *body));
  const size_t carried = ctx.inputCount() >= 2 ? ctx.inputCount() - 2 : 0;
  if (body->inputs().size() != carried + 2) return ctx.fail("body must have 2 + " + std::to_string(carried) + " inputs");
  if (body->outputs().size() < carried + 1 || ctx.outputCount() != body->outputs().size() - 1)
    return ctx.fail("body outputs must be cond, the " + std::to_string(carried) + " carried values and the node's scan outputs");
  const size_t scans = ctx.outputCount() - carried;

  int64_t max_trips = std::numeric_limits<int64_t>::max();
  if (const Tensor* m = ctx.input(0)) {
    NNC_ASSIGN_OR_RETURN(std::vector<int64_t> v, readInts(*m, "M"));
    if (v.size() != 1) return ctx.fail("M must have one element");
    max_trips = v[0];
  }
  bool keep_going = true;
  if (const Tensor* c = ctx.input(1)) {
    NNC_ASSIGN_OR_RETURN(keep_going, readBool(ctx, *c, "cond"));
  }
  std::vector<Tensor> state;
  for (size_t i = 0; i < carried; ++i) {
    const Tensor* t = ctx.input(2 + i);
    if (t == nullptr) return ctx.fail("loop-carried input " + std::to_string(i) + " is missing");
    state.push_back(*t);
  }
  std::vector<std::vector<Tensor>> scan_parts(scans);
  for (int64_t i = 0; i < max_trips && keep_going; ++i) {
    std::vector<Tensor> in;
    in.reserve(carried + 2);
    in.push_back(Tensor::fromValues<int64_t>(DType::kInt64, {}, {i}));
    in.push_back(Tensor::fromValues<uint8_t>(DType::kBool, {}, {1}));
    for (Tensor& s : state) in.push_back(std::move(s));
    NNC_ASSIGN_OR_RETURN(std::vector<Tensor> outs, runBody(ctx, *body, std::move(in)));
    NNC_ASSIGN_OR_RETURN(keep_going, readBool(ctx, outs[0], "body cond output"));
    for (size_t k = 0; k < carried; ++k) state[k] = std::move(outs[1 + k]);
    for (size_t k = 0; k < scans; ++k) scan_parts[k].push_back(std::move(outs[1 + carried + k]));
  }
  for (size_t k = 0; k < carried; ++k) ctx.setOutput(k, std::move(state[k]));
  for (size_t k = 0; k < scans; ++k) {
    if (scan_parts[k].empty()) {
      ctx.setOutput(carried + k, emptyStack(*body->outputs()[1 + carried + k], 0));
      continue;
    }
    NNC_ASSIGN_OR_RETURN(Tensor stacked, stack(ctx, scan_parts[k], 0, false));
    ctx.setOutput(carried + k, std::move(stacked));
  }
  return Status::ok();
}

// One Scan run: `length` iterations over scan inputs sliced along their axes. Returns the
// final states followed by, per scan output, the slices in iteration order.
struct ScanResult {
  std::vector<Tensor> states;
  std::vector<std::vector<Tensor>> slices;
};

Expected<ScanResult> scanCore(const KernelContext& ctx, const Graph& body, std::vector<Tensor> states,
                              const std::vector<const Tensor*>& inputs, const std::vector<int64_t>& axes,
                              const std::vector<int64_t>& directions, int64_t length) {
  const size_t n_state = states.size();
  const size_t n_out = body.outputs().size() - n_state;
  ScanResult result;
  result.slices.resize(n_out);
  for (int64_t t = 0; t < length; ++t) {
    std::vector<Tensor> in = std::move(states);
    for (size_t j = 0; j < inputs.size(); ++j) {
      const size_t esize = elementBytes(inputs[j]->dtype);
      if (esize == 0) return ctx.unsupportedHere("scan inputs of type " + dtypeName(inputs[j]->dtype) + " are not supported");
      in.push_back(sliceAxis(*inputs[j], axes[j], directions[j] ? length - 1 - t : t, esize));
    }
    NNC_ASSIGN_OR_RETURN(std::vector<Tensor> outs, runBody(ctx, body, std::move(in)));
    states.assign(std::make_move_iterator(outs.begin()), std::make_move_iterator(outs.begin() + static_cast<long>(n_state)));
    for (size_t k = 0; k < n_out; ++k) result.slices[k].push_back(std::move(outs[n_state + k]));
  }
  result.states = std::move(states);
  return result;
}

// The attribute list of `count` values (default 0s), checked.
Expected<std::vector<int64_t>> listAttr(const KernelContext& ctx, const char* name, size_t count) {
  std::vector<int64_t> v = ctx.attrInts(name);
  if (v.empty()) v.assign(count, 0);
  if (v.size() != count) return ctx.fail(std::string(name) + " must have " + std::to_string(count) + " values");
  return v;
}

Status scan9(KernelContext& ctx) {
  const Graph* body = ctx.attrGraph("body");
  if (body == nullptr) return ctx.fail("missing body");
  NNC_RETURN_IF_ERROR(tensorsOnly(ctx, *body));
  const int64_t m = ctx.attrInt("num_scan_inputs", 0);
  if (m <= 0 || static_cast<size_t>(m) > ctx.inputCount()) return ctx.fail("num_scan_inputs must be in [1, input count]");
  const size_t n_state = ctx.inputCount() - static_cast<size_t>(m);
  if (body->inputs().size() != ctx.inputCount() || body->outputs().size() != ctx.outputCount() || ctx.outputCount() < n_state)
    return ctx.fail("body inputs/outputs do not match the node's");
  const size_t n_out = ctx.outputCount() - n_state;
  NNC_ASSIGN_OR_RETURN(std::vector<int64_t> in_axes, listAttr(ctx, "scan_input_axes", static_cast<size_t>(m)));
  NNC_ASSIGN_OR_RETURN(std::vector<int64_t> in_dirs, listAttr(ctx, "scan_input_directions", static_cast<size_t>(m)));
  NNC_ASSIGN_OR_RETURN(std::vector<int64_t> out_axes, listAttr(ctx, "scan_output_axes", n_out));
  NNC_ASSIGN_OR_RETURN(std::vector<int64_t> out_dirs, listAttr(ctx, "scan_output_directions", n_out));

  std::vector<Tensor> states;
  for (size_t i = 0; i < n_state; ++i) {
    NNC_ASSIGN_OR_RETURN(const Tensor* t, ctx.requiredInput(i));
    states.push_back(*t);
  }
  std::vector<const Tensor*> inputs;
  int64_t length = -1;
  for (size_t j = 0; j < static_cast<size_t>(m); ++j) {
    NNC_ASSIGN_OR_RETURN(const Tensor* t, ctx.requiredInput(n_state + j));
    NNC_ASSIGN_OR_RETURN(in_axes[j], normalizeAxis(in_axes[j], static_cast<int64_t>(t->shape.size())));
    const int64_t len = t->shape[static_cast<size_t>(in_axes[j])];
    if (length >= 0 && len != length) return ctx.fail("scan inputs have different sequence lengths");
    length = len;
    inputs.push_back(t);
  }
  NNC_ASSIGN_OR_RETURN(ScanResult r, scanCore(ctx, *body, std::move(states), inputs, in_axes, in_dirs, length));
  for (size_t i = 0; i < n_state; ++i) ctx.setOutput(i, std::move(r.states[i]));
  for (size_t k = 0; k < n_out; ++k) {
    if (r.slices[k].empty()) {
      ctx.setOutput(n_state + k, emptyStack(*body->outputs()[n_state + k], out_axes[k]));
      continue;
    }
    NNC_ASSIGN_OR_RETURN(Tensor stacked, stack(ctx, r.slices[k], out_axes[k], out_dirs[k] != 0));
    ctx.setOutput(n_state + k, std::move(stacked));
  }
  return Status::ok();
}

// Opset 8: every input has a batch axis 0, scan inputs scan along axis 1, optional
// sequence_lens per batch entry; scan outputs shorter than the longest are zero-padded.
Status scan8(KernelContext& ctx) {
  const Graph* body = ctx.attrGraph("body");
  if (body == nullptr) return ctx.fail("missing body");
  NNC_RETURN_IF_ERROR(tensorsOnly(ctx, *body));
  const int64_t m = ctx.attrInt("num_scan_inputs", 0);
  if (m <= 0 || static_cast<size_t>(m) + 1 > ctx.inputCount()) return ctx.fail("num_scan_inputs must be in [1, input count - 1]");
  const size_t n_state = ctx.inputCount() - 1 - static_cast<size_t>(m);
  if (body->inputs().size() != ctx.inputCount() - 1 || body->outputs().size() != ctx.outputCount() || ctx.outputCount() < n_state)
    return ctx.fail("body inputs/outputs do not match the node's");
  const size_t n_out = ctx.outputCount() - n_state;
  NNC_ASSIGN_OR_RETURN(std::vector<int64_t> dirs, listAttr(ctx, "directions", static_cast<size_t>(m)));

  std::vector<const Tensor*> all;
  for (size_t i = 1; i < ctx.inputCount(); ++i) {
    NNC_ASSIGN_OR_RETURN(const Tensor* t, ctx.requiredInput(i));
    if (t->shape.empty() || elementBytes(t->dtype) == 0) return ctx.fail("inputs must be tensors with a batch axis");
    all.push_back(t);
  }
  const int64_t batch = all.front()->shape[0];
  int64_t max_len = -1;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i]->shape[0] != batch) return ctx.fail("inputs have different batch sizes");
    if (i >= n_state) {
      if (all[i]->shape.size() < 2) return ctx.fail("scan inputs must have rank >= 2");
      if (max_len >= 0 && all[i]->shape[1] != max_len) return ctx.fail("scan inputs have different sequence lengths");
      max_len = all[i]->shape[1];
    }
  }
  std::vector<int64_t> lengths(static_cast<size_t>(batch), max_len);
  if (const Tensor* lens = ctx.input(0)) {
    NNC_ASSIGN_OR_RETURN(lengths, readInts(*lens, "sequence_lens"));
    if (static_cast<int64_t>(lengths.size()) != batch) return ctx.fail("sequence_lens must have one value per batch entry");
    for (int64_t v : lengths)
      if (v < 0 || v > max_len) return ctx.fail("sequence_lens values must be in [0, " + std::to_string(max_len) + "]");
  }

  std::vector<std::vector<Tensor>> state_rows(n_state), out_rows(n_out);
  const std::vector<int64_t> axes(static_cast<size_t>(m), 0);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Tensor> states;
    for (size_t i = 0; i < n_state; ++i) states.push_back(sliceAxis(*all[i], 0, b, elementBytes(all[i]->dtype)));
    // Each batch row scans its first lengths[b] steps (reverse starts at its last valid step).
    std::vector<Tensor> rows;
    for (size_t j = 0; j < static_cast<size_t>(m); ++j) rows.push_back(sliceAxis(*all[n_state + j], 0, b, elementBytes(all[n_state + j]->dtype)));
    std::vector<const Tensor*> inputs;
    for (const Tensor& row : rows) inputs.push_back(&row);
    NNC_ASSIGN_OR_RETURN(ScanResult r, scanCore(ctx, *body, std::move(states), inputs, axes, dirs, lengths[b]));
    for (size_t i = 0; i < n_state; ++i) state_rows[i].push_back(std::move(r.states[i]));
    for (size_t k = 0; k < n_out; ++k) {
      std::vector<Tensor>& steps = r.slices[k];
      if (steps.empty()) return ctx.unsupportedHere("a zero-length sequence in opset-8 Scan is not supported");
      while (static_cast<int64_t>(steps.size()) < max_len) {  // zero padding past the sequence's length
        uint8_t* data = nullptr;
        steps.push_back(Tensor::zeros(steps.front().dtype, steps.front().shape, &data));
      }
      NNC_ASSIGN_OR_RETURN(Tensor s, stack(ctx, steps, 0, false));
      out_rows[k].push_back(std::move(s));
    }
  }
  if (batch == 0) return ctx.unsupportedHere("an empty batch in opset-8 Scan is not supported");
  for (size_t i = 0; i < n_state; ++i) {
    NNC_ASSIGN_OR_RETURN(Tensor s, stack(ctx, state_rows[i], 0, false));
    ctx.setOutput(i, std::move(s));
  }
  for (size_t k = 0; k < n_out; ++k) {
    NNC_ASSIGN_OR_RETURN(Tensor s, stack(ctx, out_rows[k], 0, false));
    ctx.setOutput(n_state + k, std::move(s));
  }
  return Status::ok();
}

}  // namespace

void registerControlFlow(OpRegistry& registry) {
  registry.add({"", "If", 1, 1000, ifOp, true});
  registry.add({"", "Loop", 1, 1000, loop, true});
  registry.add({"", "Scan", 8, 8, scan8, true});
  registry.add({"", "Scan", 9, 1000, scan9, true});
}

}  // namespace nnc::ops::rnn

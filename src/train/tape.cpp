// The tape: a forward run that keeps every value (a Session observer stores each computed
// tensor; tensors share their buffers, so keeping them costs no copies), and the backward walk
// in reverse topological order calling each op's backward from the table.
#include "nncompress/train/tape.h"

#include <algorithm>

namespace nnc::train {

Expected<Tape> Tape::record(const Session& session, const NamedTensors& inputs) {
  Tape tape;
  tape.session_ = &session;
  const Graph& graph = *session.model().graph;
  for (const auto& [name, tensor] : inputs)
    if (const Value* v = graph.findValue(name)) tape.values_[v] = tensor;
  ValueObserver keep = [&tape](const Value& value, const Tensor& tensor) { tape.values_[&value] = tensor; };
  auto outputs = session.run(inputs, &keep);
  if (!outputs) return outputs.status();
  tape.outputs_ = std::move(*outputs);
  return tape;
}

const Tensor* Tape::valueOf(const Value* value) const {
  if (value == nullptr) return nullptr;
  auto it = values_.find(value);
  if (it != values_.end()) return &it->second;
  return value->initializer();
}

namespace {

void accumulate(std::optional<Grad>& into, Grad add) {
  if (!into) {
    into = std::move(add);
    return;
  }
  NNC_ENFORCE(into->data.size() == add.data.size(), "gradient size mismatch");
  for (size_t i = 0; i < add.data.size(); ++i) into->data[i] += add.data[i];
}

}  // namespace

Expected<std::vector<std::optional<Grad>>> Tape::backward(const std::vector<std::pair<const Value*, Grad>>& seeds,
                                                          const std::vector<const Value*>& params) const {
  const Graph& graph = *session_->model().graph;
  auto order = graph.topologicalOrder();
  if (!order) return order.status();

  // Which values depend on a parameter: only those need gradients (data inputs and frozen
  // weights do not, which skips e.g. the input gradient of the first layer).
  std::unordered_set<const Value*> needs(params.begin(), params.end());
  for (const Node* node : *order)
    for (const Value* in : node->inputs())
      if (in != nullptr && needs.count(in)) {
        for (const Value* out : node->outputs())
          if (out != nullptr) needs.insert(out);
        break;
      }

  std::unordered_map<const Value*, std::optional<Grad>> grads;
  for (const auto& [value, grad] : seeds) accumulate(grads[value], grad);

  const int64_t opset = session_->model().opsetVersion("");
  for (auto it = order->rbegin(); it != order->rend(); ++it) {
    const Node& node = **it;
    BackwardContext ctx(node);
    ctx.opset = opset;
    bool any_out = false, any_want = false;
    for (const Value* out : node.outputs()) {
      auto g = out ? grads.find(out) : grads.end();
      const Grad* grad = (g != grads.end() && g->second) ? &*g->second : nullptr;
      ctx.output_grads.push_back(grad);
      ctx.outputs.push_back(valueOf(out));
      any_out |= grad != nullptr;
    }
    for (const Value* in : node.inputs()) {
      ctx.inputs.push_back(valueOf(in));
      const bool want = in != nullptr && needs.count(in) > 0;
      ctx.wants.push_back(want);
      any_want |= want;
    }
    if (!any_out || !any_want) continue;
    BackwardFn fn = findBackward(node.domain, node.op_type);
    if (fn == nullptr)
      return unsupported("training: no backward for op " + node.op_type + " (node '" + node.name + "')");
    ctx.input_grads.resize(node.inputs().size());
    Status s = fn(ctx);
    if (!s.isOk()) return s;
    for (size_t i = 0; i < node.inputs().size(); ++i)
      if (ctx.wants[i] && ctx.input_grads[i]) accumulate(grads[node.input(i)], std::move(*ctx.input_grads[i]));
  }

  std::vector<std::optional<Grad>> result;
  result.reserve(params.size());
  for (const Value* p : params) {
    auto g = grads.find(p);
    result.push_back(g != grads.end() ? std::move(g->second) : std::nullopt);
  }
  return result;
}

}  // namespace nnc::train

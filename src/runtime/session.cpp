// Session planning and execution (see session.h).
//
// Each graph (the main graph and every subgraph) gets a Plan: nodes in topological order, each
// value a slot, and for each step the local slots whose last use it is. A run executes a Plan
// in a Frame of slots; a subgraph's Frame points at its caller's, so a body reads outer values
// without copies.
#include "nncompress/runtime/session.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <set>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "nncompress/ir/half.h"
#include "allocator_env.h"
#include "openmp_env.h"
#include "qdq_fusion.h"
#include "nncompress/ir/sparse.h"

namespace nnc {

struct ValueRef {
  int depth = -1;  // frames up from the current one; -1: omitted input
  int slot = -1;
};

struct Step {
  const Node* node;
  const OpDef* def;
  int64_t opset;
  std::vector<ValueRef> inputs;
  std::vector<int> outputs;  // -1 for omitted outputs
  std::vector<int> release;  // local slots whose last use is this step
  std::vector<const Value*> output_values;  // what `outputs` hold (a fused step's node has none)
  const Tensor* folded = nullptr;  // a Constant node's value, computed once at planning
};

struct Session::Plan {
  const Graph* graph;
  std::unordered_map<const Value*, int> slots;
  std::vector<Step> steps;
  std::vector<int> input_slots;                           // graph inputs in order
  std::vector<ValueRef> output_refs;                      // graph outputs in order
  std::vector<std::pair<int, const Tensor*>> constants;  // initializers
  std::deque<Tensor> densified;  // dense forms of the sparse initializers (stable addresses)
  std::deque<Tensor> folded;     // values of the Constant nodes (stable addresses)
  int slot_count = 0;
};

struct Session::Frame {
  const Plan* plan;
  std::vector<Tensor> slots;
  const Frame* parent;
};

namespace {

bool isHalf(DType t) { return t == DType::kFloat16 || t == DType::kBFloat16; }

Tensor convertHalfToFloat(const Tensor& t) {
  uint8_t* data = nullptr;
  Tensor out = Tensor::zeros(DType::kFloat, t.shape, &data);
  float* f = reinterpret_cast<float*>(data);
  const uint16_t* h = t.dataAs<uint16_t>();
  const int64_t n = t.elementCount();
  if (t.dtype == DType::kFloat16)
    for (int64_t i = 0; i < n; ++i) f[i] = halfToFloat(h[i]);
  else
    for (int64_t i = 0; i < n; ++i) f[i] = bfloat16ToFloat(h[i]);
  return out;
}

Tensor convertFloatToHalf(const Tensor& t, DType half) {
  uint8_t* data = nullptr;
  Tensor out = Tensor::zeros(half, t.shape, &data);
  uint16_t* h = reinterpret_cast<uint16_t*>(data);
  const float* f = t.dataAs<float>();
  const int64_t n = t.elementCount();
  if (half == DType::kFloat16)
    for (int64_t i = 0; i < n; ++i) h[i] = floatToHalf(f[i]);
  else
    for (int64_t i = 0; i < n; ++i) h[i] = floatToBfloat16(f[i]);
  return out;
}

// Values a node reads: its inputs plus everything its subgraphs use from outside themselves.
void collectReads(const Node& node, std::vector<const Value*>& reads) {
  for (const Value* v : node.inputs())
    if (v != nullptr) reads.push_back(v);
  std::function<void(const Graph&)> visit = [&](const Graph& g) {
    for (const Node* n : g.nodes()) {
      for (const Value* v : n->inputs())
        if (v != nullptr && v->graph() != &g) reads.push_back(v);
      for (const Attribute& a : n->attributes) {
        if (a.g) visit(*a.g);
        for (const auto& sub : a.graphs) visit(*sub);
      }
    }
    for (const Value* v : g.outputs())
      if (v->graph() != &g) reads.push_back(v);
  };
  for (const Attribute& a : node.attributes) {
    if (a.g) visit(*a.g);
    for (const auto& sub : a.graphs) visit(*sub);
  }
}

int64_t opsetOf(const Model& model, const std::string& domain) {
  int64_t v = model.opsetVersion(domain);
  return v;
}

}  // namespace

Session::Session(const Model& model, SessionOptions options) : model_(model), options_(options) {}
Session::~Session() = default;

Status Session::planGraph(const Graph& graph, std::vector<std::string>& missing) {
  auto plan = std::make_unique<Plan>();
  plan->graph = &graph;
  auto slotOf = [&](const Value* v) {
    auto [it, inserted] = plan->slots.emplace(v, plan->slot_count);
    if (inserted) ++plan->slot_count;
    return it->second;
  };
  for (const Value* v : graph.inputs()) plan->input_slots.push_back(slotOf(v));
  for (const Value* v : graph.initializers()) plan->constants.emplace_back(slotOf(v), v->initializer());
  // Sparse initializers (e.g. pruned weights written with --sparse-storage) run as dense constants.
  for (const Value* v : graph.sparseInitializers()) {
    auto dense = densify(*v->sparseInitializer());
    if (!dense) return dense.status().withContext("sparse initializer '" + v->name() + "'");
    plan->densified.push_back(std::move(*dense));
    plan->constants.emplace_back(slotOf(v), &plan->densified.back());
  }
  NNC_ASSIGN_OR_RETURN(std::vector<Node*> order, graph.topologicalOrder());
  for (const Node* node : order)
    for (const Value* v : node->outputs())
      if (v != nullptr) slotOf(v);

  const OpRegistry& registry = options_.registry ? *options_.registry : defaultRegistry();
  auto refOf = [&](const Value* v) -> ValueRef {
    if (v == nullptr) return {};
    int depth = 0;
    for (const Graph* g = &graph; g != nullptr; g = g->parent(), ++depth)
      if (v->graph() == g) break;
    if (depth == 0) return {0, slotOf(v)};
    return {depth, -2};  // resolved by name of the Value in the outer frame at run time
  };
  // QDQ groups run as one integer step in place of their QuantizeLinear; their other nodes are skipped.
  std::vector<QdqGroup> groups;
  if (options_.fuse_qdq) groups = findQdqGroups(graph, opsetOf(model_, ""));
  std::unordered_map<const Node*, QdqGroup*> group_at;
  std::set<const Node*> absorbed;
  for (QdqGroup& g : groups) {
    group_at[g.quantize] = &g;
    absorbed.insert(g.absorbed.begin(), g.absorbed.end());
  }
  std::unordered_map<const Value*, size_t> last_use;  // value -> index of the last step reading it
  std::vector<std::vector<const Value*>> step_outputs;
  for (const Node* node : order) {
    auto fused = group_at.find(node);
    if (absorbed.count(node) && fused == group_at.end()) continue;
    const size_t i = plan->steps.size();
    std::vector<const Value*> reads;
    Step step{node, nullptr, opsetOf(model_, node->domain), {}, {}, {}, {}};
    if (fused != group_at.end()) {
      QdqGroup& g = *fused->second;
      step.node = g.fused.get();
      step.opset = 1;
      for (const Value* v : g.inputs) step.inputs.push_back(refOf(v));
      step.outputs.push_back(slotOf(g.output));
      for (const Value* v : g.inputs)
        if (v != nullptr) reads.push_back(v);
      step_outputs.push_back({g.output});
      step.output_values = {g.output};
    } else {
      for (const Value* v : node->inputs()) step.inputs.push_back(refOf(v));
      for (const Value* v : node->outputs()) step.outputs.push_back(v ? slotOf(v) : -1);
      collectReads(*node, reads);
      step_outputs.emplace_back(node->outputs().begin(), node->outputs().end());
      step.output_values = step_outputs.back();
    }
    step.def = registry.find(step.node->domain, step.node->op_type, step.opset);
    if (step.def == nullptr) {
      std::string name = (node->domain.empty() ? std::string() : node->domain + ".") + node->op_type + " (opset " +
                         std::to_string(step.opset) + ")";
      if (std::find(missing.begin(), missing.end(), name) == missing.end()) missing.push_back(name);
    }
    // Constant nodes (weights of exported RNN/VAD models sit in hundreds of them, many inside
    // If branches) are evaluated here once; a run only stores the value in its slot.
    if (step.def != nullptr && node->op_type == "Constant" && node->domain.empty() && step.outputs.size() == 1) {
      KernelContext ctx(*node, step.opset, {}, 1, 1, nullptr);
      if (step.def->forward(ctx).isOk() && ctx.outputs()[0].dtype != DType::kUndefined) {
        plan->folded.push_back(std::move(ctx.outputs()[0]));
        step.folded = &plan->folded.back();
      }
    }
    for (const Value* v : reads)
      if (v->graph() == &graph) last_use[v] = i;
    plan->steps.push_back(std::move(step));
  }
  for (auto& g : groups) fused_nodes_.push_back(std::move(g.fused));
  // Outputs nobody reads are dropped right after the step that made them.
  for (size_t i = 0; i < step_outputs.size(); ++i)
    for (const Value* v : step_outputs[i])
      if (v != nullptr && !last_use.count(v)) last_use[v] = i;
  std::set<const Value*> keep(graph.outputs().begin(), graph.outputs().end());
  for (const auto& [value, step] : last_use)
    if (!keep.count(value) && value->initializer() == nullptr && value->sparseInitializer() == nullptr) plan->steps[step].release.push_back(plan->slots.at(value));
  for (Step& s : plan->steps) std::sort(s.release.begin(), s.release.end());
  for (const Value* v : graph.outputs()) plan->output_refs.push_back(refOf(v));
  plans_.push_back(std::move(plan));

  for (const Node* node : order)
    for (const Attribute& a : node->attributes) {
      if (a.g) NNC_RETURN_IF_ERROR(planGraph(*a.g, missing));
      for (const auto& sub : a.graphs) NNC_RETURN_IF_ERROR(planGraph(*sub, missing));
    }
  return Status::ok();
}

Expected<std::unique_ptr<Session>> Session::create(const Model& model, SessionOptions options) {
  std::unique_ptr<Session> session(new Session(model, options));
  spdlog::debug("session: OpenMP threads wait with {}", openMpWaitPolicy());
  spdlog::debug("session: tensor allocation with {}", tuneTensorAllocator());
  std::vector<std::string> missing;
  NNC_RETURN_IF_ERROR(session->planGraph(*model.graph, missing));
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return unsupported("no kernel for " + std::to_string(missing.size()) + " op(s): " + list);
  }
  return session;
}

std::vector<const Value*> Session::inputs() const {
  std::vector<const Value*> result;
  for (const Value* v : model_.graph->inputs())
    if (v->initializer() == nullptr && v->sparseInitializer() == nullptr) result.push_back(v);
  return result;
}

const std::vector<Value*>& Session::outputs() const { return model_.graph->outputs(); }

namespace {

Status checkInput(const Value& value, const Tensor& tensor) {
  if (value.type.kind != ValueType::Kind::kTensor) return Status::ok();
  if (value.type.elem_type != 0 && static_cast<int32_t>(tensor.dtype) != value.type.elem_type)
    return invalidArgument("input '" + value.name() + "' must be " + dtypeName(static_cast<DType>(value.type.elem_type)) +
                           ", got " + dtypeName(tensor.dtype));
  if (!value.type.has_shape) return Status::ok();
  bool ok = value.type.dims.size() == tensor.shape.size();
  for (size_t i = 0; ok && i < tensor.shape.size(); ++i)
    if (value.type.dims[i].value && *value.type.dims[i].value != tensor.shape[i]) ok = false;
  if (!ok) {
    std::string want, got;
    for (const Dim& d : value.type.dims) want += (want.empty() ? "" : ",") + (d.value ? std::to_string(*d.value) : d.param.empty() ? "?" : d.param);
    for (int64_t d : tensor.shape) got += (got.empty() ? "" : ",") + std::to_string(d);
    return invalidArgument("input '" + value.name() + "' must have shape [" + want + "], got [" + got + "]");
  }
  return Status::ok();
}

}  // namespace

Expected<std::vector<Tensor>> Session::run(const NamedTensors& inputs, const ValueObserver* observer,
                                           Profile* profile) const {
  const Plan& main = *plans_.front();
  std::vector<Tensor> ordered(main.input_slots.size());
  std::vector<bool> given(ordered.size(), false);
  const auto& graph_inputs = model_.graph->inputs();
  for (const auto& input : inputs) {
    const std::string& name = input.first;
    const Tensor& tensor = input.second;
    auto it = std::find_if(graph_inputs.begin(), graph_inputs.end(), [&name](const Value* v) { return v->name() == name; });
    if (it == graph_inputs.end()) return invalidArgument("the model has no input named '" + name + "'");
    NNC_RETURN_IF_ERROR(checkInput(**it, tensor));
    size_t index = static_cast<size_t>(it - graph_inputs.begin());
    ordered[index] = tensor;
    given[index] = true;
  }
  for (size_t i = 0; i < ordered.size(); ++i)
    if (!given[i] && graph_inputs[i]->initializer() == nullptr && graph_inputs[i]->sparseInitializer() == nullptr)
      return invalidArgument("input '" + graph_inputs[i]->name() + "' is missing");
  const int threads = options_.threads > 0 ? options_.threads : omp_get_num_procs();
  omp_set_num_threads(threads);
  return runPlan(main, std::move(ordered), nullptr, observer, profile);
}

Expected<std::vector<Tensor>> Session::runPlan(const Plan& plan, std::vector<Tensor> inputs, const Frame* parent,
                                               const ValueObserver* observer, Profile* profile) const {
  Frame frame{&plan, std::vector<Tensor>(static_cast<size_t>(plan.slot_count)), parent};
  for (const auto& [slot, tensor] : plan.constants) frame.slots[static_cast<size_t>(slot)] = *tensor;
  for (size_t i = 0; i < plan.input_slots.size() && i < inputs.size(); ++i)
    if (inputs[i].dtype != DType::kUndefined) frame.slots[static_cast<size_t>(plan.input_slots[i])] = std::move(inputs[i]);

  // Outer values are found through the frames of the enclosing graphs.
  auto lookup = [&](const ValueRef& ref, const Value* value) -> const Tensor* {
    if (ref.depth < 0) return nullptr;
    if (ref.depth == 0) return &frame.slots[static_cast<size_t>(ref.slot)];
    const Frame* f = &frame;
    for (int d = 0; d < ref.depth && f != nullptr; ++d) f = f->parent;
    if (f == nullptr) return nullptr;
    auto it = f->plan->slots.find(value);
    return it == f->plan->slots.end() ? nullptr : &f->slots[static_cast<size_t>(it->second)];
  };
  SubgraphRunner runner = [&](const Graph& g, std::vector<Tensor> sub_inputs) -> Expected<std::vector<Tensor>> {
    for (const auto& p : plans_)
      if (p->graph == &g) return runPlan(*p, std::move(sub_inputs), &frame, nullptr, profile);
    return unsupported("subgraph was not planned");
  };
  const int threads = options_.threads > 0 ? options_.threads : omp_get_num_procs();

  for (const Step& step : plan.steps) {
    if (step.folded != nullptr) {
      if (step.outputs[0] >= 0) {
        if (observer != nullptr) (*observer)(*step.output_values[0], *step.folded);
        frame.slots[static_cast<size_t>(step.outputs[0])] = *step.folded;
      }
      for (int slot : step.release) frame.slots[static_cast<size_t>(slot)] = Tensor();
      continue;
    }
    std::vector<const Tensor*> in;
    in.reserve(step.inputs.size());
    std::vector<Tensor> upcast;  // reserved on first use only: most steps have no half inputs
    DType half = DType::kUndefined;
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const Tensor* t = lookup(step.inputs[i], step.node->input(i));
      if (t != nullptr && t->dtype == DType::kUndefined) t = nullptr;
      if (t != nullptr && !step.def->native_half && isHalf(t->dtype)) {
        if (upcast.empty()) upcast.reserve(step.inputs.size());  // no reallocation: `in` keeps pointers
        half = t->dtype;
        upcast.push_back(convertHalfToFloat(*t));
        t = &upcast.back();
      }
      in.push_back(t);
    }
    KernelContext ctx(*step.node, step.opset, std::move(in), step.outputs.size(), threads, &runner);
    const auto started = profile != nullptr ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    Status status = step.def->forward(ctx);
    if (!status.isOk()) return status;
    if (profile != nullptr) {
      // Subgraph time is counted both in the subgraph's ops and in the If/Loop that ran it.
      auto& entry = profile->by_op[(step.node->domain.empty() ? "" : step.node->domain + ".") + step.node->op_type];
      entry.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      ++entry.calls;
    }
    for (size_t o = 0; o < step.outputs.size(); ++o) {
      if (step.outputs[o] < 0) continue;
      Tensor& out = ctx.outputs()[o];
      if (half != DType::kUndefined && out.dtype == DType::kFloat) out = convertFloatToHalf(out, half);
      if (observer != nullptr && out.dtype != DType::kUndefined) (*observer)(*step.output_values[o], out);
      frame.slots[static_cast<size_t>(step.outputs[o])] = std::move(out);
    }
    for (int slot : step.release) frame.slots[static_cast<size_t>(slot)] = Tensor();
  }
  std::vector<Tensor> outputs;
  outputs.reserve(plan.output_refs.size());
  for (size_t i = 0; i < plan.output_refs.size(); ++i) {
    const Tensor* t = lookup(plan.output_refs[i], plan.graph->outputs()[i]);
    if (t == nullptr || t->dtype == DType::kUndefined)
      return invalidModel("graph output '" + plan.graph->outputs()[i]->name() + "' was not computed");
    outputs.push_back(*t);
  }
  return outputs;
}

}  // namespace nnc

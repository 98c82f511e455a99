// KernelContext and OpRegistry (see kernel.h).
#include "nncompress/runtime/kernel.h"

#include <algorithm>

namespace nnc {

Expected<const Tensor*> KernelContext::requiredInput(size_t i) const {
  const Tensor* t = input(i);
  if (t == nullptr) return fail("input " + std::to_string(i) + " is required");
  return t;
}

namespace {

// Whether a subgraph nested in `g` returns `v` directly as an output: that is no node use, so
// it is not in v's use list.
bool returnedBySubgraph(const Graph& g, const Value* v) {
  auto returns = [&](const Graph& sub) {
    return std::find(sub.outputs().begin(), sub.outputs().end(), v) != sub.outputs().end() || returnedBySubgraph(sub, v);
  };
  for (const Node* n : g.nodes())
    for (const Attribute& a : n->attributes) {
      if (a.g && returns(*a.g)) return true;
      for (const auto& sub : a.graphs)
        if (returns(*sub)) return true;
    }
  return false;
}

}  // namespace

bool KernelContext::outputWanted(size_t i) const {
  const Value* v = node_.output(i);
  return v != nullptr && (!v->uses().empty() || v->isGraphOutput() || returnedBySubgraph(*v->graph(), v));
}

int64_t KernelContext::attrInt(const std::string& name, int64_t fallback) const {
  const Attribute* a = node_.attr(name);
  return a != nullptr ? a->i : fallback;
}

float KernelContext::attrFloat(const std::string& name, float fallback) const {
  const Attribute* a = node_.attr(name);
  return a != nullptr ? a->f : fallback;
}

std::string KernelContext::attrString(const std::string& name, const std::string& fallback) const {
  const Attribute* a = node_.attr(name);
  return a != nullptr ? a->s : fallback;
}

std::vector<int64_t> KernelContext::attrInts(const std::string& name) const {
  const Attribute* a = node_.attr(name);
  return a != nullptr ? a->ints : std::vector<int64_t>{};
}

std::vector<float> KernelContext::attrFloats(const std::string& name) const {
  const Attribute* a = node_.attr(name);
  return a != nullptr ? a->floats : std::vector<float>{};
}

const Graph* KernelContext::attrGraph(const std::string& name) const {
  const Attribute* a = node_.attr(name);
  return a != nullptr ? a->g.get() : nullptr;
}

const Tensor* KernelContext::attrTensor(const std::string& name) const {
  const Attribute* a = node_.attr(name);
  return a != nullptr && a->type == AttrType::kTensor ? &a->t : nullptr;
}

Expected<std::vector<Tensor>> KernelContext::runSubgraph(const Graph& graph, std::vector<Tensor> inputs) const {
  NNC_ENFORCE(subgraphs_ != nullptr, "no subgraph runner");
  return (*subgraphs_)(graph, std::move(inputs));
}

Status KernelContext::fail(const std::string& message) const { return invalidModel(node_.describe() + ": " + message); }

Status KernelContext::unsupportedHere(const std::string& message) const {
  return unsupported(node_.describe() + ": " + message);
}

void OpRegistry::add(OpDef def) { defs_.push_back(std::move(def)); }

const OpDef* OpRegistry::find(const std::string& domain, const std::string& op_type, int64_t opset) const {
  const std::string& d = domain == "ai.onnx" ? std::string() : domain;
  for (const OpDef& def : defs_)
    if (def.op_type == op_type && def.domain == d && opset >= def.since_version && opset <= def.until_version) return &def;
  return nullptr;
}

std::vector<std::string> OpRegistry::opNames() const {
  std::vector<std::string> names;
  for (const OpDef& def : defs_) names.push_back((def.domain.empty() ? "ai.onnx" : def.domain) + ":" + def.op_type);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace nnc

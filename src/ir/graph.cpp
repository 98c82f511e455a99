// IR graph editing and traversal (see graph.h).
#include "nncompress/ir/graph.h"

#include <algorithm>
#include <deque>
#include <set>

namespace nnc {

bool ValueType::operator==(const ValueType& other) const {
  if (kind != other.kind || elem_type != other.elem_type || has_shape != other.has_shape ||
      dims != other.dims || denotation != other.denotation || opaque_domain != other.opaque_domain ||
      opaque_name != other.opaque_name || unknown_fields != other.unknown_fields)
    return false;
  if (!element || !other.element) return !element && !other.element;
  return *element == *other.element;
}

bool Value::isGraphInput() const {
  const auto& in = graph_->inputs();
  return std::find(in.begin(), in.end(), this) != in.end();
}

bool Value::isGraphOutput() const {
  const auto& out = graph_->outputs();
  return std::find(out.begin(), out.end(), this) != out.end();
}

const Attribute* Node::attr(const std::string& attr_name) const {
  for (const Attribute& a : attributes)
    if (a.name == attr_name) return &a;
  return nullptr;
}

Attribute* Node::attr(const std::string& attr_name) {
  for (Attribute& a : attributes)
    if (a.name == attr_name) return &a;
  return nullptr;
}

int64_t Node::attrInt(const std::string& attr_name, int64_t fallback) const {
  const Attribute* a = attr(attr_name);
  return a != nullptr && a->type == AttrType::kInt ? a->i : fallback;
}

float Node::attrFloat(const std::string& attr_name, float fallback) const {
  const Attribute* a = attr(attr_name);
  return a != nullptr && a->type == AttrType::kFloat ? a->f : fallback;
}

bool Node::hasSubgraphs() const {
  for (const Attribute& a : attributes)
    if (a.g || !a.graphs.empty()) return true;
  return false;
}

std::string Node::describe() const {
  std::string who = name.empty() ? "node producing '" + (outputs_.empty() || !outputs_[0] ? std::string("?") : outputs_[0]->name()) + "'"
                                 : "node '" + name + "'";
  return who + " (" + (domain.empty() ? "" : domain + ".") + op_type + ")";
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> result;
  result.reserve(nodes_.size());
  for (const auto& n : nodes_) result.push_back(n.get());
  return result;
}

Value* Graph::findValue(const std::string& value_name) const {
  auto it = by_name_.find(value_name);
  return it == by_name_.end() ? nullptr : it->second;
}

Value* Graph::resolve(const std::string& value_name) const {
  for (const Graph* g = this; g != nullptr; g = g->parent_)
    if (Value* v = g->findValue(value_name)) return v;
  return nullptr;
}

Value* Graph::createValue(std::string value_name) {
  auto value = std::make_unique<Value>();
  value->name_ = std::move(value_name);
  value->graph_ = this;
  Value* raw = value.get();
  values_.push_back(std::move(value));
  by_name_[raw->name_] = raw;
  return raw;
}

Value* Graph::addValue(const std::string& hint) {
  std::string base = hint.empty() ? "v" : hint;
  if (resolve(base) == nullptr) return createValue(base);
  while (true) {
    std::string candidate = base + "__" + std::to_string(++name_counter_);
    if (resolve(candidate) == nullptr) return createValue(candidate);
  }
}

Expected<Value*> Graph::addNamedValue(const std::string& value_name) {
  if (findValue(value_name) != nullptr) return invalidModel("the name '" + value_name + "' is defined twice");
  return createValue(value_name);
}

Node* Graph::appendNode(std::string op_type, std::string domain) {
  auto node = std::make_unique<Node>();
  node->op_type = std::move(op_type);
  node->domain = std::move(domain);
  node->graph_ = this;
  nodes_.push_back(std::move(node));
  return nodes_.back().get();
}

Node* Graph::insertNodeBefore(Node* position, std::string op_type, std::string domain) {
  Node* node = appendNode(std::move(op_type), std::move(domain));
  moveNodeBefore(node, position);
  return node;
}

void Graph::moveNodeBefore(Node* node, Node* position) {
  auto from = std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& n) { return n.get() == node; });
  NNC_ENFORCE(from != nodes_.end(), "node not in this graph");
  std::unique_ptr<Node> owned = std::move(*from);
  nodes_.erase(from);
  auto to = std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& n) { return n.get() == position; });
  nodes_.insert(to, std::move(owned));
}

void Graph::setInitializer(Value* value, Tensor tensor) {
  NNC_ENFORCE(value->graph_ == this, "initializer of another graph");
  if (!value->initializer_) initializers_.push_back(value);
  value->initializer_ = std::move(tensor);
}

void Graph::setSparseInitializer(Value* value, SparseTensor tensor) {
  NNC_ENFORCE(value->graph_ == this, "initializer of another graph");
  if (!value->sparse_initializer_) sparse_initializers_.push_back(value);
  value->sparse_initializer_ = std::make_shared<SparseTensor>(std::move(tensor));
}

void Graph::replaceInitializer(Value* value, Tensor tensor) {
  NNC_ENFORCE(value->initializer_.has_value(), "not an initializer: " + value->name_);
  value->initializer_ = std::move(tensor);
}

void Graph::removeInitializer(Value* value) {
  value->initializer_.reset();
  value->sparse_initializer_.reset();
  std::erase(initializers_, value);
  std::erase(sparse_initializers_, value);
}

void Graph::appendNodeInput(Node* node, Value* value) {
  node->inputs_.push_back(value);
  if (value != nullptr) value->uses_.push_back({node, node->inputs_.size() - 1});
}

void Graph::setNodeInput(Node* node, size_t index, Value* value) {
  NNC_ENFORCE(index < node->inputs_.size(), "input index out of range");
  Value* old = node->inputs_[index];
  if (old != nullptr) std::erase(old->uses_, Value::Use{node, index});
  node->inputs_[index] = value;
  if (value != nullptr) value->uses_.push_back({node, index});
}

void Graph::appendNodeOutput(Node* node, Value* value) {
  if (value != nullptr) {
    NNC_ENFORCE(value->producer_ == nullptr, "value '" + value->name_ + "' already has a producer");
    value->producer_ = node;
    value->producer_output_ = node->outputs_.size();
  }
  node->outputs_.push_back(value);
}

void Graph::replaceAllUsesWith(Value* from, Value* to) {
  std::vector<Value::Use> uses = from->uses_;
  for (const Value::Use& use : uses) use.node->graph_->setNodeInput(use.node, use.input_index, to);
  for (Value*& out : from->graph_->outputs_)
    if (out == from) out = to;
}

void Graph::eraseNode(Node* node) {
  for (Value* out : node->outputs_)
    if (out != nullptr) {
      NNC_ENFORCE(out->uses_.empty() && !out->isGraphOutput(), "erasing " + node->describe() + " whose output is used");
      out->producer_ = nullptr;
    }
  for (size_t i = 0; i < node->inputs_.size(); ++i)
    if (node->inputs_[i] != nullptr) std::erase(node->inputs_[i]->uses_, Value::Use{node, i});
  std::erase_if(nodes_, [&](const auto& n) { return n.get() == node; });
}

void Graph::eraseNodeKeepOutputs(Node* node) {
  for (Value* out : node->outputs_)
    if (out != nullptr) out->producer_ = nullptr;
  node->outputs_.clear();
  for (size_t i = 0; i < node->inputs_.size(); ++i)
    if (node->inputs_[i] != nullptr) std::erase(node->inputs_[i]->uses_, Value::Use{node, i});
  std::erase_if(nodes_, [&](const auto& n) { return n.get() == node; });
}

void Graph::eraseValue(Value* value) {
  NNC_ENFORCE(value->uses_.empty() && value->producer_ == nullptr, "erasing a value still in use: " + value->name_);
  removeInitializer(value);
  std::erase(inputs_, value);
  std::erase(value_infos_, value);
  NNC_ENFORCE(std::find(outputs_.begin(), outputs_.end(), value) == outputs_.end(), "erasing a graph output");
  by_name_.erase(value->name_);
  std::erase_if(values_, [&](const auto& v) { return v.get() == value; });
}

Status Graph::renameValue(Value* value, const std::string& new_name) {
  NNC_ENFORCE(value->graph_ == this, "renaming a value of another graph");
  if (value->name_ == new_name) return Status::ok();
  if (resolve(new_name) != nullptr) return invalidModel("the name '" + new_name + "' is already used");
  by_name_.erase(value->name_);
  value->name_ = new_name;
  by_name_[new_name] = value;
  return Status::ok();
}

namespace {

// Values of `scope` (or its ancestors) that a subgraph uses, directly or in deeper subgraphs.
void collectOuterUses(const Graph& sub, std::set<Value*>& out) {
  for (Node* n : sub.nodes()) {
    for (Value* in : n->inputs())
      if (in != nullptr && in->graph() != &sub) out.insert(in);
    for (const Attribute& a : n->attributes) {
      if (a.g) collectOuterUses(*a.g, out);
      for (const auto& g : a.graphs) collectOuterUses(*g, out);
    }
  }
  for (Value* v : sub.outputs())
    if (v != nullptr && v->graph() != &sub) out.insert(v);
}

}  // namespace

Expected<std::vector<Node*>> Graph::topologicalOrder() const {
  // Kahn's algorithm; ties keep the stored order so the result is deterministic.
  std::unordered_map<const Node*, size_t> index;
  for (size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].get()] = i;
  std::vector<std::vector<size_t>> consumers(nodes_.size());
  std::vector<size_t> pending(nodes_.size(), 0);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node* node = nodes_[i].get();
    std::set<Value*> deps(node->inputs_.begin(), node->inputs_.end());
    for (const Attribute& a : node->attributes) {
      if (a.g) collectOuterUses(*a.g, deps);
      for (const auto& g : a.graphs) collectOuterUses(*g, deps);
    }
    std::set<size_t> producers;
    for (Value* v : deps)
      if (v != nullptr && v->producer_ != nullptr && v->graph_ == this) producers.insert(index.at(v->producer_));
    for (size_t p : producers) {
      consumers[p].push_back(i);
      ++pending[i];
    }
  }
  std::set<size_t> ready;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (pending[i] == 0) ready.insert(i);
  std::vector<Node*> order;
  order.reserve(nodes_.size());
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(nodes_[i].get());
    for (size_t c : consumers[i])
      if (--pending[c] == 0) ready.insert(c);
  }
  if (order.size() != nodes_.size()) {
    std::string names;
    int listed = 0;
    for (size_t i = 0; i < nodes_.size() && listed < 5; ++i)
      if (pending[i] != 0) {
        names += (listed++ ? ", " : "") + nodes_[i]->describe();
      }
    return invalidModel("the graph has a cycle through " + names);
  }
  return order;
}

int64_t Model::opsetVersion(const std::string& op_domain) const {
  const std::string& d = op_domain == "ai.onnx" ? std::string() : op_domain;
  for (const auto& [dom, version] : opset_imports)
    if ((dom == "ai.onnx" ? std::string() : dom) == d) return version;
  return 0;
}

void Model::setMetadata(const std::string& key, const std::string& value) {
  for (auto& entry : metadata_props)
    if (entry.first == key) {
      entry.second = value;
      return;
    }
  metadata_props.emplace_back(key, value);
}

const Tensor& ConstantRef::tensor() const {
  if (constant_node == nullptr) return *value->initializer();
  return constant_node->attr("value")->t;
}

void ConstantRef::replace(Tensor tensor) const {
  if (constant_node == nullptr) {
    graph->replaceInitializer(value, std::move(tensor));
  } else {
    tensor.name = constant_node->attr("value")->t.name;
    constant_node->attr("value")->t = std::move(tensor);
  }
}

std::optional<ConstantRef> constantRefOf(Value* value) {
  if (value == nullptr) return std::nullopt;
  if (value->initializer() != nullptr) return ConstantRef{value->graph(), value, nullptr};
  Node* producer = value->producer();
  if (producer != nullptr && producer->op_type == "Constant" && (producer->domain.empty() || producer->domain == "ai.onnx")) {
    const Attribute* attr = producer->attr("value");
    if (attr != nullptr && attr->type == AttrType::kTensor) return ConstantRef{value->graph(), value, producer};
  }
  return std::nullopt;
}

void forEachNode(Graph& graph, const std::function<void(Node&)>& visit) {
  for (Node* node : graph.nodes()) {
    visit(*node);
    for (Attribute& a : node->attributes) {
      if (a.g) forEachNode(*a.g, visit);
      for (auto& g : a.graphs) forEachNode(*g, visit);
    }
  }
}

void forEachConstant(Graph& graph, const std::function<void(const ConstantRef&)>& visit) {
  for (Value* v : graph.initializers()) visit({&graph, v, nullptr});
  for (Node* node : graph.nodes()) {
    if (node->op_type == "Constant" && (node->domain.empty() || node->domain == "ai.onnx")) {
      const Attribute* value = node->attr("value");
      if (value != nullptr && value->type == AttrType::kTensor && node->output(0) != nullptr)
        visit({&graph, node->output(0), node});
    }
    for (Attribute& a : node->attributes) {
      if (a.g) forEachConstant(*a.g, visit);
      for (auto& g : a.graphs) forEachConstant(*g, visit);
    }
  }
}

}  // namespace nnc

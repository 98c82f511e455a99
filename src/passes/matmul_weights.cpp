// See matmul_weights.h.
#include "passes/matmul_weights.h"

#include <algorithm>
#include <cmath>

namespace nnc {
namespace {

bool globMatch(const char* pattern, const char* text) {
  if (*pattern == '\0') return *text == '\0';
  if (*pattern == '*') return globMatch(pattern + 1, text) || (*text != '\0' && globMatch(pattern, text + 1));
  if (*text == '\0') return false;
  return (*pattern == '?' || *pattern == *text) && globMatch(pattern + 1, text + 1);
}

bool isDefaultDomain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

}  // namespace

std::vector<std::string> splitNameList(const std::string& text) {
  std::vector<std::string> names;
  std::string current;
  for (char ch : text + "+") {
    if (ch == '+' || ch == ':' || ch == ',') {
      if (!current.empty()) names.push_back(current);
      current.clear();
    } else {
      current += ch;
    }
  }
  return names;
}

bool nodeMatchesAny(const Node& node, const std::vector<std::string>& patterns) {
  const std::string name = !node.name.empty() ? node.name : (node.output(0) != nullptr ? node.output(0)->name() : "");
  for (const std::string& p : patterns)
    if (globMatch(p.c_str(), name.c_str())) return true;
  return false;
}

std::string matmulCandidate(Node& node, const DTypeMap& types, WeightedMatMul* c) {
  const bool gemm = node.op_type == "Gemm";
  if (!isDefaultDomain(node) || (node.op_type != "MatMul" && !gemm)) return "not MatMul/Gemm";
  if (types.of(node.input(0)) != DType::kFloat) return "activation is not float32";
  auto w = constantRefOf(node.input(1));
  if (!w) return "weight is not a constant";
  const Tensor& t = w->tensor();
  if (t.dtype != DType::kFloat) return "weight is not float32";
  if (t.shape.size() != 2) return "weight is not 2-D";
  if (gemm && node.attrInt("transA", 0) != 0) return "Gemm with transA";
  if (node.output(0) == nullptr) return "no output";
  const bool trans_b = gemm && node.attrInt("transB", 0) != 0;
  c->node = &node;
  c->weight = node.input(1);
  c->k = trans_b ? t.shape[1] : t.shape[0];
  c->n = trans_b ? t.shape[0] : t.shape[1];
  c->alpha = gemm ? node.attrFloat("alpha", 1.0f) : 1.0f;
  c->beta = gemm ? node.attrFloat("beta", 1.0f) : 1.0f;
  c->bias = gemm ? node.input(2) : nullptr;
  if (c->bias != nullptr && types.of(c->bias) != DType::kFloat) return "Gemm bias is not float32";
  const float* p = t.dataAs<float>();
  c->kn.resize(static_cast<size_t>(c->k * c->n));
  for (int64_t i = 0; i < c->k; ++i)
    for (int64_t j = 0; j < c->n; ++j) c->kn[static_cast<size_t>(i * c->n + j)] = trans_b ? p[j * c->k + i] : p[i * c->n + j];
  for (float v : c->kn)
    if (!std::isfinite(v)) return "weight has NaN or Inf";
  return "";
}

std::vector<std::pair<WeightedMatMul, std::string>> findMatMuls(Model& model, const DTypeMap& types,
                                                                 const std::vector<std::string>& exclude) {
  std::vector<std::pair<WeightedMatMul, std::string>> found;
  forEachNode(*model.graph, [&](Node& node) {
    if (node.op_type != "MatMul" && node.op_type != "Gemm") return;
    WeightedMatMul c;
    std::string why = nodeMatchesAny(node, exclude) ? "excluded" : matmulCandidate(node, types, &c);
    if (!why.empty()) {
      c = WeightedMatMul();
      c.node = &node;
    }
    found.emplace_back(std::move(c), why);
  });
  return found;
}

QuantizedWeight quantizeSymmetric(const std::vector<float>& kn, int64_t k, int64_t n, bool per_channel, int qmax) {
  QuantizedWeight out;
  const int64_t groups = per_channel ? n : 1;
  std::vector<float> absmax(static_cast<size_t>(groups), 0.0f);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float& m = absmax[static_cast<size_t>(per_channel ? j : 0)];
      m = std::max(m, std::fabs(kn[static_cast<size_t>(i * n + j)]));
    }
  out.scales.resize(static_cast<size_t>(groups));
  for (int64_t g = 0; g < groups; ++g) {
    const float m = absmax[static_cast<size_t>(g)];
    out.scales[static_cast<size_t>(g)] = m > 0 ? m / static_cast<float>(qmax) : 1.0f;
  }
  out.q.resize(kn.size());
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const size_t idx = static_cast<size_t>(i * n + j);
      const float s = out.scales[static_cast<size_t>(per_channel ? j : 0)];
      float v = std::nearbyint(kn[idx] / s);
      v = std::min(std::max(v, static_cast<float>(-qmax)), static_cast<float>(qmax));
      out.q[idx] = static_cast<int8_t>(v);
    }
  return out;
}

Value* addInitializer(Graph& graph, const std::string& hint, Tensor tensor) {
  Value* v = graph.addValue(hint);
  tensor.name = v->name();
  graph.setInitializer(v, std::move(tensor));
  return v;
}

Node* insertNode(Graph& graph, Node* before, const std::string& op, const std::vector<Value*>& inputs,
                 const std::vector<Value*>& outputs, const std::string& name) {
  Node* node = before != nullptr ? graph.insertNodeBefore(before, op) : graph.appendNode(op);
  node->name = name;
  for (Value* in : inputs) graph.appendNodeInput(node, in);
  for (Value* out : outputs) graph.appendNodeOutput(node, out);
  return node;
}

void setIntAttr(Node& node, const std::string& name, int64_t value) {
  Attribute a;
  a.name = name;
  a.type = AttrType::kInt;
  a.i = value;
  node.attributes.push_back(std::move(a));
}

void eraseIfUnused(Value* constant) {
  if (constant == nullptr || !constant->uses().empty() || constant->isGraphOutput() || constant->isGraphInput()) return;
  Graph* graph = constant->graph();
  if (Node* producer = constant->producer()) {
    if (producer->op_type != "Constant") return;
    graph->eraseNode(producer);
  }
  graph->eraseValue(constant);
}

}  // namespace nnc

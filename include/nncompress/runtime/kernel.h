// The kernel interface: what an op implementation sees (inputs, attributes, outputs, the
// thread count, subgraph execution) and how it is registered (OpDef).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nncompress/ir/graph.h"

namespace nnc {

class KernelContext;
using KernelFn = Status (*)(KernelContext&);

// Runs a subgraph (If/Loop/Scan body) with the given inputs, seeing the caller's values.
using SubgraphRunner = std::function<Expected<std::vector<Tensor>>(const Graph&, std::vector<Tensor>)>;

// One op implementation. A node binds to the def whose domain and op type match and whose
// [since_version, until_version] range holds the model's opset for that domain.
struct OpDef {
  std::string domain;  // "" for ai.onnx
  std::string op_type;
  int since_version = 1;
  int until_version = 1000;
  KernelFn forward = nullptr;
  // Float types the kernel computes natively. float16/bfloat16 inputs of a kernel that lists
  // only kFloat are computed in float32 and rounded back, as ONNX Runtime does on CPU.
  bool native_half = false;
};

// Everything a kernel call sees.
class KernelContext {
 public:
  KernelContext(const Node& node, int64_t opset, std::vector<const Tensor*> inputs, size_t output_count,
                int threads, const SubgraphRunner* subgraphs)
      : node_(node), opset_(opset), inputs_(std::move(inputs)), outputs_(output_count), threads_(threads),
        subgraphs_(subgraphs) {}

  const Node& node() const { return node_; }
  int64_t opset() const { return opset_; }
  int threads() const { return threads_; }

  size_t inputCount() const { return inputs_.size(); }
  // nullptr for an omitted optional input or an index past the node's inputs.
  const Tensor* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  // The input, or an error naming it when it is missing.
  Expected<const Tensor*> requiredInput(size_t i) const;

  size_t outputCount() const { return outputs_.size(); }
  // Whether the model uses output i (a kernel may skip work for unused optional outputs).
  bool outputWanted(size_t i) const;
  void setOutput(size_t i, Tensor tensor) { outputs_.at(i) = std::move(tensor); }
  std::vector<Tensor>& outputs() { return outputs_; }

  // Attributes (fallback when absent).
  int64_t attrInt(const std::string& name, int64_t fallback) const;
  float attrFloat(const std::string& name, float fallback) const;
  std::string attrString(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> attrInts(const std::string& name) const;  // empty when absent
  std::vector<float> attrFloats(const std::string& name) const;
  bool hasAttr(const std::string& name) const { return node_.attr(name) != nullptr; }
  const Graph* attrGraph(const std::string& name) const;
  const Tensor* attrTensor(const std::string& name) const;

  Expected<std::vector<Tensor>> runSubgraph(const Graph& graph, std::vector<Tensor> inputs) const;

  // An error naming this node.
  Status fail(const std::string& message) const;
  Status unsupportedHere(const std::string& message) const;

 private:
  const Node& node_;
  int64_t opset_;
  std::vector<const Tensor*> inputs_;
  std::vector<Tensor> outputs_;
  int threads_;
  const SubgraphRunner* subgraphs_;
};

// All op implementations, looked up by (domain, op type, opset).
class OpRegistry {
 public:
  void add(OpDef def);
  // The def for a node of `domain`/`op_type` under `opset`, or nullptr.
  const OpDef* find(const std::string& domain, const std::string& op_type, int64_t opset) const;
  // Every registered op as "domain:Op" (sorted), for reports.
  std::vector<std::string> opNames() const;

 private:
  std::vector<OpDef> defs_;
};

// The registry with every op nncompress implements (src/ops/registry.cpp lists them).
const OpRegistry& defaultRegistry();

}  // namespace nnc

// The IR: Model > Graph > Node > Value, with attributes of every ONNX kind (subgraphs
// included). Graphs own their nodes and values; edges change only through Graph methods, so
// producer and use lists stay consistent. Everything the IR does not model (fields newer than
// ONNX 1.12's protos, training info) is kept as opaque bytes so that a model round-trips.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nncompress/ir/tensor.h"

namespace nnc {

class Graph;
class Node;

// One dimension of a shape: a number, a symbol ("N", "seq_len"), or unknown.
struct Dim {
  std::optional<int64_t> value;
  std::string param;  // symbolic name when value is empty; empty string means unknown
  std::string denotation;
  bool operator==(const Dim&) const = default;
};

// ONNX's TypeProto: a tensor (element type, optional shape), a sparse tensor, a sequence, a map,
// an optional or an opaque type.
struct ValueType {
  enum class Kind { kUnset, kTensor, kSparseTensor, kSequence, kMap, kOptional, kOpaque };
  Kind kind = Kind::kUnset;
  int32_t elem_type = 0;      // tensor / sparse tensor element type; map key type
  bool has_shape = false;     // a tensor without shape has unknown rank
  std::vector<Dim> dims;
  std::shared_ptr<ValueType> element;  // sequence / optional element; map value
  std::string denotation;
  std::string opaque_domain, opaque_name;
  std::string unknown_fields;  // wire bytes of fields newer than the IR knows

  bool isTensor() const { return kind == Kind::kTensor; }
  bool operator==(const ValueType& other) const;
};

// An edge of the graph: produced by one node output, a graph input, or an initializer.
class Value {
 public:
  struct Use {
    Node* node;
    size_t input_index;
    bool operator==(const Use&) const = default;
  };

  const std::string& name() const { return name_; }
  Graph* graph() const { return graph_; }
  Node* producer() const { return producer_; }
  size_t producerOutput() const { return producer_output_; }
  const std::vector<Use>& uses() const { return uses_; }

  // The constant tensor if this value is an initializer.
  const Tensor* initializer() const { return initializer_ ? &*initializer_ : nullptr; }
  const SparseTensor* sparseInitializer() const { return sparse_initializer_.get(); }
  bool isGraphInput() const;
  bool isGraphOutput() const;

  ValueType type;  // from inputs/outputs/value_info; kind kUnset when unknown
  std::string doc_string;
  std::string info_unknown_fields;  // ValueInfoProto fields newer than the IR knows

 private:
  friend class Graph;
  std::string name_;
  Graph* graph_ = nullptr;
  Node* producer_ = nullptr;
  size_t producer_output_ = 0;
  std::vector<Use> uses_;
  std::optional<Tensor> initializer_;
  std::shared_ptr<SparseTensor> sparse_initializer_;
};

// ONNX attribute kinds (numbered as AttributeProto.AttributeType).
enum class AttrType : int32_t {
  kUndefined = 0, kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kGraph = 5, kFloats = 6,
  kInts = 7, kStrings = 8, kTensors = 9, kGraphs = 10, kSparseTensor = 11, kSparseTensors = 12,
  kTypeProto = 13, kTypeProtos = 14,
};

// A node attribute; exactly the field matching `type` is meaningful.
struct Attribute {
  std::string name;
  AttrType type = AttrType::kUndefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::unique_ptr<Graph> g;
  SparseTensor sparse;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::unique_ptr<Graph>> graphs;
  std::vector<SparseTensor> sparse_tensors;
  ValueType tp;  // kTypeProto (e.g. Optional's type)
  std::vector<ValueType> type_protos;
  std::string ref_attr_name;  // inside functions: refers to an attribute of the caller
  std::string doc_string;
  std::string unknown_fields;  // fields newer than ONNX 1.12's schema
};

// One operator application.
class Node {
 public:
  std::string op_type;
  std::string domain;  // "" is the default ONNX domain ("ai.onnx")
  std::string name;
  std::string doc_string;
  std::vector<Attribute> attributes;
  std::string unknown_fields;  // NodeProto fields newer than the IR knows (overload, metadata)

  const std::vector<Value*>& inputs() const { return inputs_; }    // nullptr: omitted optional input
  const std::vector<Value*>& outputs() const { return outputs_; }  // nullptr: omitted optional output
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
  Graph* graph() const { return graph_; }

  const Attribute* attr(const std::string& attr_name) const;
  Attribute* attr(const std::string& attr_name);
  int64_t attrInt(const std::string& attr_name, int64_t fallback) const;
  float attrFloat(const std::string& attr_name, float fallback) const;
  bool hasSubgraphs() const;
  // "name (Op)" or "#index (Op)" for messages.
  std::string describe() const;

 private:
  friend class Graph;
  Graph* graph_ = nullptr;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
};

// A quantization annotation of a graph: tensor name -> (key, tensor name) pairs.
struct QuantAnnotation {
  std::string tensor_name;
  std::vector<std::pair<std::string, std::string>> params;
  std::string unknown_fields;
};

// A graph: nodes in their stored order, values, inputs, outputs and initializers. A subgraph
// (If/Loop/Scan body) has a parent graph and may use the parent's values directly.
class Graph {
 public:
  explicit Graph(Graph* parent = nullptr) : parent_(parent) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  std::string name;
  std::string doc_string;
  std::vector<QuantAnnotation> quantization_annotations;
  std::string unknown_fields;

  Graph* parent() const { return parent_; }

  // Nodes in stored order (topological for valid ONNX; see topologicalOrder()).
  std::vector<Node*> nodes() const;
  size_t nodeCount() const { return nodes_.size(); }
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  const std::vector<Value*>& initializers() const { return initializers_; }
  const std::vector<Value*>& sparseInitializers() const { return sparse_initializers_; }
  const std::vector<Value*>& valueInfos() const { return value_infos_; }

  // The value with this name in this graph (not its parents), or nullptr.
  Value* findValue(const std::string& value_name) const;
  // Looks the name up in this graph, then in the enclosing graphs.
  Value* resolve(const std::string& value_name) const;

  // --- Building and editing -------------------------------------------------------------
  // A new value with a name unique in this graph (derived from `hint`).
  Value* addValue(const std::string& hint);
  // A value with exactly this name; fails if the name is taken in this graph.
  Expected<Value*> addNamedValue(const std::string& value_name);
  Node* appendNode(std::string op_type, std::string domain = "");
  // Inserts a node just before `position` in the stored order.
  Node* insertNodeBefore(Node* position, std::string op_type, std::string domain = "");
  void addInput(Value* value) { inputs_.push_back(value); }
  void addOutput(Value* value) { outputs_.push_back(value); }
  void setOutput(size_t index, Value* value) { outputs_.at(index) = value; }
  void removeOutput(size_t index) { outputs_.erase(outputs_.begin() + static_cast<ptrdiff_t>(index)); }
  void addValueInfo(Value* value) { value_infos_.push_back(value); }
  // Makes `value` an initializer holding `tensor` (appended to the initializer list if new).
  void setInitializer(Value* value, Tensor tensor);
  void setSparseInitializer(Value* value, SparseTensor tensor);
  // Replaces an initializer's tensor in place.
  void replaceInitializer(Value* value, Tensor tensor);
  void appendNodeInput(Node* node, Value* value);
  void setNodeInput(Node* node, size_t index, Value* value);
  // Adds an output to a node, producing `value` (which must have no producer).
  void appendNodeOutput(Node* node, Value* value);
  // Points every use of `from` (nodes here and in subgraphs, and graph outputs) at `to`.
  void replaceAllUsesWith(Value* from, Value* to);
  // Removes a node; its outputs must be unused. The outputs lose their producer.
  void eraseNode(Node* node);
  // Removes a node but keeps its output values (they lose their producer); for replacing a
  // node by initializers under the same names.
  void eraseNodeKeepOutputs(Node* node);
  // Removes an unused value that no node produces and no list names.
  void eraseValue(Value* value);
  // Gives a value a new name; fails if the name is taken in this graph or an enclosing one.
  Status renameValue(Value* value, const std::string& new_name);
  // Drops an initializer's tensor (the value stays and may be erased afterwards).
  void removeInitializer(Value* value);
  // Moves a node to just before `position` in the stored order.
  void moveNodeBefore(Node* node, Node* position);

  // Nodes sorted so that each comes after the producers of its inputs, including values that
  // its subgraphs use from this graph. Fails with the nodes on a cycle named.
  Expected<std::vector<Node*>> topologicalOrder() const;

 private:
  Value* createValue(std::string value_name);
  void replaceUsesInSubgraphs(Value* from, Value* to);
  Graph* parent_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Value>> values_;
  std::unordered_map<std::string, Value*> by_name_;
  std::vector<Value*> inputs_, outputs_, initializers_, sparse_initializers_, value_infos_;
  uint64_t name_counter_ = 0;
};

// A model-local function (FunctionProto). The body is a graph whose inputs and outputs are the
// function's formal parameters.
struct Function {
  std::string name;
  std::string domain;
  std::string doc_string;
  std::vector<std::string> attribute_names;
  std::vector<std::pair<std::string, int64_t>> opset_imports;
  std::unique_ptr<Graph> body;
  std::string unknown_fields;  // overload, attribute_proto, value_info, metadata (IR 9+)
};

// A whole model: its graph and everything ModelProto carries around it.
struct Model {
  int64_t ir_version = 0;
  std::vector<std::pair<std::string, int64_t>> opset_imports;  // (domain, version), stored order
  std::string producer_name, producer_version, domain, doc_string;
  int64_t model_version = 0;
  bool has_model_version = false;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  std::unique_ptr<Graph> graph = std::make_unique<Graph>();
  std::vector<Function> functions;
  std::vector<std::string> training_info;  // serialized TrainingInfoProto, kept as is
  std::string unknown_fields;

  // The opset version imported for `domain` ("" and "ai.onnx" are the same), or 0.
  int64_t opsetVersion(const std::string& op_domain) const;
  // Sets a metadata_props entry, replacing an existing key.
  void setMetadata(const std::string& key, const std::string& value);
};

// Where a constant tensor lives: an initializer, or the `value` attribute of a Constant node,
// in the main graph or any subgraph. replace() swaps the tensor wherever it is.
struct ConstantRef {
  Graph* graph;
  Value* value;       // the initializer value, or the Constant node's output
  Node* constant_node;  // null for initializers
  const Tensor& tensor() const;
  void replace(Tensor tensor) const;
};

// The constant behind a value (an initializer or a Constant node's `value`), if it is one.
std::optional<ConstantRef> constantRefOf(Value* value);

// Visits every dense constant tensor of a graph and its subgraphs, in stored order.
void forEachConstant(Graph& graph, const std::function<void(const ConstantRef&)>& visit);
// Visits every node of a graph and its subgraphs (parents before their subgraphs).
void forEachNode(Graph& graph, const std::function<void(Node&)>& visit);

}  // namespace nnc

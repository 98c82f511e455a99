// Element type propagation (see dtype_inference.h). The rules cover the default-domain ops whose
// output type is not simply their first input's: explicit target types (Cast, ConstantOfShape,
// Random*), index and shape outputs (int64), comparisons (bool), quantization ops, and control
// flow (from the body's declared outputs).
#include "passes/dtype_inference.h"

#include <set>

namespace nnc {
namespace {

std::optional<DType> declared(const Value* value) {
  if (value == nullptr || !value->type.isTensor() || value->type.elem_type == 0) return std::nullopt;
  return dtypeFromOnnx(value->type.elem_type);
}

std::optional<DType> attrType(const Node& node, const char* name, std::optional<DType> fallback) {
  const Attribute* a = node.attr(name);
  if (a == nullptr || a->type != AttrType::kInt) return fallback;
  return dtypeFromOnnx(static_cast<int32_t>(a->i));
}

bool isDefaultDomain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

}  // namespace

DTypeMap::DTypeMap(Model& model) {
  std::function<void(Graph&)> visitGraph = [&](Graph& graph) {
    for (Value* v : graph.inputs())
      if (auto t = declared(v)) types_[v] = *t;
    for (Value* v : graph.initializers()) types_[v] = v->initializer()->dtype;
    for (Value* v : graph.valueInfos())
      if (auto t = declared(v)) types_[v] = *t;
    for (Value* v : graph.outputs())
      if (auto t = declared(v)) types_[v] = *t;
    for (Node* node : graph.nodes()) {
      // Subgraph formal inputs first: If/Loop/Scan outputs are read from the body's outputs.
      for (Attribute& a : node->attributes) {
        if (a.g) visitGraph(*a.g);
        for (auto& g : a.graphs) visitGraph(*g);
      }
      visitNode(*node);
    }
  };
  visitGraph(*model.graph);
}

std::optional<DType> DTypeMap::of(const Value* value) const {
  if (value == nullptr) return std::nullopt;
  auto it = types_.find(value);
  if (it != types_.end()) return it->second;
  if (auto c = declared(value)) return c;
  return std::nullopt;
}

void DTypeMap::visitNode(const Node& node) {
  auto in = [&](size_t i) { return of(node.input(i)); };
  auto setOut = [&](size_t i, std::optional<DType> t) {
    Value* v = node.output(i);
    if (v == nullptr || !t || types_.count(v)) return;  // a declared type wins
    types_[v] = *t;
  };
  const std::string& op = node.op_type;
  if (!isDefaultDomain(node)) {
    if (node.domain == "com.microsoft" && (op == "DynamicQuantizeMatMul" || op == "MatMulIntegerToFloat")) setOut(0, DType::kFloat);
    return;
  }
  static const std::set<std::string> kInt64Out = {"Shape", "Size", "NonZero", "ArgMax", "ArgMin", "NonMaxSuppression"};
  static const std::set<std::string> kBoolOut = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or",
                                                 "Xor", "Not", "IsNaN", "IsInf"};
  if (kInt64Out.count(op)) {
    setOut(0, DType::kInt64);
  } else if (kBoolOut.count(op)) {
    setOut(0, DType::kBool);
  } else if (op == "Cast") {
    setOut(0, attrType(node, "to", std::nullopt));
  } else if (op == "CastLike") {
    setOut(0, in(1));
  } else if (op == "Constant") {
    const Attribute* v = node.attr("value");
    if (v != nullptr && v->type == AttrType::kTensor) setOut(0, v->t.dtype);
    else if (node.attr("value_float") || node.attr("value_floats")) setOut(0, DType::kFloat);
    else if (node.attr("value_int") || node.attr("value_ints")) setOut(0, DType::kInt64);
    else if (node.attr("value_string") || node.attr("value_strings")) setOut(0, DType::kString);
  } else if (op == "ConstantOfShape") {
    const Attribute* v = node.attr("value");
    setOut(0, v != nullptr && v->type == AttrType::kTensor ? v->t.dtype : DType::kFloat);
  } else if (op == "RandomNormal" || op == "RandomUniform") {
    setOut(0, attrType(node, "dtype", DType::kFloat));
  } else if (op == "RandomNormalLike" || op == "RandomUniformLike" || op == "EyeLike" || op == "Bernoulli") {
    setOut(0, attrType(node, "dtype", in(0)));
  } else if (op == "Multinomial") {
    setOut(0, attrType(node, "dtype", DType::kInt32));
  } else if (op == "TopK") {
    setOut(0, in(0));
    setOut(1, DType::kInt64);
  } else if (op == "Unique") {
    setOut(0, in(0));
    for (size_t i = 1; i < 4; ++i) setOut(i, DType::kInt64);
  } else if (op == "Dropout") {
    setOut(0, in(0));
    setOut(1, DType::kBool);
  } else if (op == "MaxPool") {
    setOut(0, in(0));
    setOut(1, DType::kInt64);
  } else if (op == "Where") {
    setOut(0, in(1));
  } else if (op == "OneHot") {
    setOut(0, in(2));
  } else if (op == "QuantizeLinear") {
    setOut(0, node.input(2) != nullptr ? in(2) : attrType(node, "output_dtype", DType::kUInt8));
  } else if (op == "DequantizeLinear") {
    setOut(0, in(1));
  } else if (op == "DynamicQuantizeLinear") {
    setOut(0, DType::kUInt8);
    setOut(1, DType::kFloat);
    setOut(2, DType::kUInt8);
  } else if (op == "MatMulInteger" || op == "ConvInteger") {
    setOut(0, DType::kInt32);
  } else if (op == "QLinearConv" || op == "QLinearMatMul") {
    setOut(0, in(7));
  } else if (op == "If" || op == "Loop" || op == "Scan") {
    const Attribute* body = node.attr(op == "If" ? "then_branch" : "body");
    if (body == nullptr || !body->g) return;
    const size_t skip = op == "Loop" ? 1 : 0;  // Loop body outputs: cond, then carried and scan outputs
    for (size_t i = 0; i < node.outputs().size(); ++i)
      if (i + skip < body->g->outputs().size()) setOut(i, of(body->g->outputs()[i + skip]));
  } else if (op == "LayerNormalization") {
    setOut(0, in(0));
    setOut(1, attrType(node, "stash_type", DType::kFloat));
    setOut(2, attrType(node, "stash_type", DType::kFloat));
  } else if (op == "SequenceConstruct" || op == "SplitToSequence" || op == "SequenceEmpty" || op == "SequenceAt" ||
             op == "ConcatFromSequence" || op == "SequenceInsert" || op == "SequenceErase" || op == "Optional" ||
             op == "OptionalGetElement" || op == "OptionalHasElement" || op == "SequenceLength" || op == "SequenceMap") {
    return;  // not plain tensors: passes leave them alone
  } else {
    // Most ops: every output has the first input's type (data input first: Gather, Reshape,
    // Pad, Slice, Expand, Concat, Split, Conv, MatMul, elementwise, reductions, RNNs, ...).
    for (size_t i = 0; i < node.outputs().size(); ++i) setOut(i, in(0));
  }
}

}  // namespace nnc

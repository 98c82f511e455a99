// Model summary for `inspect` (see model_summary.h).
#include "nncompress/analysis/model_summary.h"

#include <cstring>
#include <set>

namespace nnc {
namespace {

std::string typeName(const ValueType& type) {
  switch (type.kind) {
    case ValueType::Kind::kTensor: return dtypeName(static_cast<DType>(type.elem_type));
    case ValueType::Kind::kSparseTensor: return "sparse_" + dtypeName(static_cast<DType>(type.elem_type));
    case ValueType::Kind::kSequence: return "sequence<" + (type.element ? typeName(*type.element) : std::string("?")) + ">";
    case ValueType::Kind::kOptional: return "optional<" + (type.element ? typeName(*type.element) : std::string("?")) + ">";
    case ValueType::Kind::kMap: return "map";
    case ValueType::Kind::kOpaque: return "opaque";
    case ValueType::Kind::kUnset: return "?";
  }
  return "?";
}

TensorSignature signatureOf(const Value& value) {
  TensorSignature sig;
  sig.name = value.name();
  sig.dtype = typeName(value.type);
  sig.has_shape = value.type.has_shape;
  for (const Dim& d : value.type.dims)
    sig.shape.push_back(d.value ? std::to_string(*d.value) : d.param.empty() ? "?" : d.param);
  return sig;
}

// The constant tensor behind a node input, if it is one (initializer or Constant output).
const Tensor* constantOf(const Value* value) {
  if (value == nullptr) return nullptr;
  if (const Tensor* t = value->initializer()) return t;
  const Node* producer = value->producer();
  if (producer != nullptr && producer->op_type == "Constant" && producer->domain.empty()) {
    const Attribute* attr = producer->attr("value");
    if (attr != nullptr && attr->type == AttrType::kTensor) return &attr->t;
  }
  return nullptr;
}

// Pruning acts on a layer's largest weight (the Conv kernel, not its bias): its zero fraction is
// the layer's sparsity. The first of equal-sized weights wins.
void noteLargestWeight(LayerSummary& layer, int64_t elements, int64_t zeros, int64_t& largest) {
  if (elements <= largest) return;
  largest = elements;
  layer.sparsity = static_cast<double>(zeros) / static_cast<double>(elements);
}

// A DequantizeLinear of a constant (a quantized weight or bias in a QDQ model) read by exactly
// one node: its tensors are counted at that reader (the Conv, not the DequantizeLinear row).
bool dequantizesForOneReader(const Node& node) {
  if (node.op_type != "DequantizeLinear" || node.output(0) == nullptr || node.output(0)->isGraphOutput()) return false;
  if (node.output(0)->uses().size() != 1 || node.output(0)->uses()[0].node->op_type == "DequantizeLinear") return false;
  return constantOf(node.input(0)) != nullptr;
}

// The node's inputs, with those made by a DequantizeLinear counted at this node replaced by that
// DequantizeLinear's own inputs.
std::vector<const Value*> weightCandidates(const Node& node) {
  std::vector<const Value*> inputs;
  for (const Value* in : node.inputs()) {
    if (in != nullptr && in->producer() != nullptr && dequantizesForOneReader(*in->producer())) {
      for (const Value* dq_in : in->producer()->inputs()) inputs.push_back(dq_in);
    } else {
      inputs.push_back(in);
    }
  }
  return inputs;
}

void collectLayers(Graph& graph, std::set<const void*>& seen, std::vector<LayerSummary>& layers,
                   std::map<std::string, int64_t>& histogram, int64_t& node_count) {
  for (Node* node : graph.nodes()) {
    ++node_count;
    ++histogram[node->domain.empty() ? node->op_type : node->domain + "." + node->op_type];
    if (node->op_type != "Constant" && !dequantizesForOneReader(*node)) {
      LayerSummary layer;
      layer.name = node->name.empty() ? node->op_type + "#" + std::to_string(node_count - 1) : node->name;
      layer.op = node->op_type;
      int64_t zeros = 0, largest = 0;
      for (const Value* in : weightCandidates(*node)) {
        if (in != nullptr && in->sparseInitializer() != nullptr) {
          // A sparse initializer counts with its dense size; the elements not stored are zeros.
          const SparseTensor* sp = in->sparseInitializer();
          if (!seen.insert(sp).second) continue;
          auto dense = checkedElementCount(sp->dims);
          const int64_t n = dense ? *dense : 0;
          layer.weights.push_back({in->name(), dtypeName(sp->values.dtype), sp->dims});
          layer.params += n;
          const int64_t weight_zeros = n - sp->values.elementCount() + countZeros(sp->values);
          zeros += weight_zeros;
          noteLargestWeight(layer, n, weight_zeros, largest);
          continue;
        }
        const Tensor* t = constantOf(in);
        if (t == nullptr || !seen.insert(t).second) continue;
        layer.weights.push_back({in->name(), dtypeName(t->dtype), t->shape});
        layer.params += t->elementCount();
        const int64_t weight_zeros = countZeros(*t);
        zeros += weight_zeros;
        noteLargestWeight(layer, t->elementCount(), weight_zeros, largest);
      }
      if (layer.params > 0) {
        layer.zero_fraction = static_cast<double>(zeros) / static_cast<double>(layer.params);
        layers.push_back(std::move(layer));
      }
    }
    for (Attribute& a : node->attributes) {
      if (a.g) collectLayers(*a.g, seen, layers, histogram, node_count);
      for (auto& g : a.graphs) collectLayers(*g, seen, layers, histogram, node_count);
    }
  }
}

}  // namespace

int64_t countZeros(const Tensor& tensor) {
  if (tensor.dtype == DType::kString || tensor.buffer == nullptr) return 0;
  const int64_t n = tensor.elementCount();
  const uint8_t* p = tensor.bytes();
  const bool fp = isFloatingPoint(tensor.dtype);
  int64_t zeros = 0;
  switch (dtypeBits(tensor.dtype)) {
    case 4:
      for (int64_t i = 0; i < n; ++i) {
        uint8_t nibble = (p[i / 2] >> ((i % 2) * 4)) & 0xf;
        zeros += (fp ? (nibble & 0x7) : nibble) == 0;
      }
      break;
    case 8:
      for (int64_t i = 0; i < n; ++i) zeros += (fp ? (p[i] & 0x7f) : p[i]) == 0;
      break;
    case 16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        zeros += (fp ? (v & 0x7fff) : v) == 0;
      }
      break;
    case 32:
      for (int64_t i = 0; i < n; ++i) {
        uint32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        zeros += (fp ? (v & 0x7fffffffu) : v) == 0;
      }
      break;
    case 64:
      for (int64_t i = 0; i < n; ++i) {
        uint64_t v;
        std::memcpy(&v, p + 8 * i, 8);
        zeros += (fp ? (v & 0x7fffffffffffffffull) : v) == 0;
      }
      break;
    default:
      break;  // complex128: not counted
  }
  return zeros;
}

std::string formatSignature(const TensorSignature& signature) {
  if (!signature.has_shape) return signature.dtype + "[unknown rank]";
  std::string text = signature.dtype + "[";
  for (size_t i = 0; i < signature.shape.size(); ++i) text += (i ? "," : "") + signature.shape[i];
  return text + "]";
}

ModelSummary summarizeModel(Model& model) {
  ModelSummary s;
  s.ir_version = model.ir_version;
  s.opsets = model.opset_imports;
  s.producer = model.producer_name + (model.producer_version.empty() ? "" : " " + model.producer_version);
  s.metadata = model.metadata_props;
  for (const Value* v : model.graph->inputs())
    if (v->initializer() == nullptr) s.inputs.push_back(signatureOf(*v));
  for (const Value* v : model.graph->outputs()) s.outputs.push_back(signatureOf(*v));
  forEachConstant(*model.graph, [&](const ConstantRef& c) {
    const Tensor& t = c.tensor();
    int64_t n = t.dtype == DType::kString ? static_cast<int64_t>(t.strings.size()) : t.elementCount();
    s.params_by_dtype[dtypeName(t.dtype)] += n;
    s.params += n;
    s.weight_bytes += t.byteSize();
    s.zero_params += countZeros(t);
  });
  for (const Value* v : model.graph->sparseInitializers()) {
    const SparseTensor* sp = v->sparseInitializer();
    auto dense = checkedElementCount(sp->dims);
    int64_t n = dense ? *dense : 0;
    s.params_by_dtype[dtypeName(sp->values.dtype)] += n;
    s.params += n;
    s.weight_bytes += sp->values.byteSize() + sp->indices.byteSize();
    s.zero_params += n - sp->values.elementCount() + countZeros(sp->values);
  }
  std::set<const void*> seen;
  collectLayers(*model.graph, seen, s.layers, s.op_histogram, s.node_count);
  for (LayerSummary& layer : s.layers)
    layer.share = s.params > 0 ? static_cast<double>(layer.params) / static_cast<double>(s.params) : 0.0;
  return s;
}

}  // namespace nnc

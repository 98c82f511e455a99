// ONNX import (see import.h). Two passes per graph: first every name a graph defines (inputs,
// initializers, node outputs) gets its Value, then node inputs and subgraphs are resolved, so
// nodes stored out of order and subgraphs that use outer values both work.
#include "nncompress/onnx/import.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <unistd.h>

#include <climits>

#include "proto_util.h"

namespace nnc {
namespace {

using onnx_io::ExternalDataResolver;
using onnx_io::unknownFieldBytes;

ValueType typeFromProto(const onnx::TypeProto& proto) {
  ValueType type;
  type.denotation = proto.denotation();
  type.unknown_fields = unknownFieldBytes(proto);
  auto readShape = [&](const onnx::TensorShapeProto& shape) {
    type.has_shape = true;
    for (const auto& d : shape.dim()) {
      Dim dim;
      if (d.has_dim_value()) dim.value = d.dim_value();
      else dim.param = d.dim_param();
      dim.denotation = d.denotation();
      type.dims.push_back(std::move(dim));
    }
  };
  switch (proto.value_case()) {
    case onnx::TypeProto::kTensorType:
      type.kind = ValueType::Kind::kTensor;
      type.elem_type = proto.tensor_type().elem_type();
      if (proto.tensor_type().has_shape()) readShape(proto.tensor_type().shape());
      break;
    case onnx::TypeProto::kSparseTensorType:
      type.kind = ValueType::Kind::kSparseTensor;
      type.elem_type = proto.sparse_tensor_type().elem_type();
      if (proto.sparse_tensor_type().has_shape()) readShape(proto.sparse_tensor_type().shape());
      break;
    case onnx::TypeProto::kSequenceType:
      type.kind = ValueType::Kind::kSequence;
      if (proto.sequence_type().has_elem_type())
        type.element = std::make_shared<ValueType>(typeFromProto(proto.sequence_type().elem_type()));
      break;
    case onnx::TypeProto::kOptionalType:
      type.kind = ValueType::Kind::kOptional;
      if (proto.optional_type().has_elem_type())
        type.element = std::make_shared<ValueType>(typeFromProto(proto.optional_type().elem_type()));
      break;
    case onnx::TypeProto::kMapType:
      type.kind = ValueType::Kind::kMap;
      type.elem_type = proto.map_type().key_type();
      if (proto.map_type().has_value_type())
        type.element = std::make_shared<ValueType>(typeFromProto(proto.map_type().value_type()));
      break;
    case onnx::TypeProto::kOpaqueType:
      type.kind = ValueType::Kind::kOpaque;
      type.opaque_domain = proto.opaque_type().domain();
      type.opaque_name = proto.opaque_type().name();
      break;
    default:
      break;
  }
  return type;
}

void applyValueInfo(const onnx::ValueInfoProto& info, Value* value) {
  if (info.has_type()) value->type = typeFromProto(info.type());
  value->doc_string = info.doc_string();
  value->info_unknown_fields = unknownFieldBytes(info);
}

class Importer {
 public:
  explicit Importer(ExternalDataResolver& external) : external_(external) {}

  Status importGraph(onnx::GraphProto& proto, Graph& graph);
  Status importFunction(onnx::FunctionProto& proto, Function& function);

 private:
  Expected<SparseTensor> sparseFromProto(onnx::SparseTensorProto& proto);
  Status importAttribute(onnx::AttributeProto& proto, Graph& graph, Attribute& attr);
  Status defineNodes(google::protobuf::RepeatedPtrField<onnx::NodeProto>& protos, Graph& graph,
                     std::vector<Node*>& nodes);
  Status connectNodes(google::protobuf::RepeatedPtrField<onnx::NodeProto>& protos, Graph& graph,
                      const std::vector<Node*>& nodes);
  ExternalDataResolver& external_;
};

Expected<SparseTensor> Importer::sparseFromProto(onnx::SparseTensorProto& proto) {
  SparseTensor sparse;
  NNC_ASSIGN_OR_RETURN(sparse.values, onnx_io::tensorFromProto(*proto.mutable_values(), external_));
  NNC_ASSIGN_OR_RETURN(sparse.indices, onnx_io::tensorFromProto(*proto.mutable_indices(), external_));
  sparse.dims.assign(proto.dims().begin(), proto.dims().end());
  auto count = checkedElementCount(sparse.dims);
  if (!count) return count.status().withContext("sparse tensor '" + sparse.values.name + "'");
  return sparse;
}

Status Importer::importAttribute(onnx::AttributeProto& proto, Graph& graph, Attribute& attr) {
  attr.name = proto.name();
  attr.type = static_cast<AttrType>(proto.type());
  attr.ref_attr_name = proto.ref_attr_name();
  attr.doc_string = proto.doc_string();
  attr.unknown_fields = unknownFieldBytes(proto);
  attr.f = proto.f();
  attr.i = proto.i();
  attr.s = proto.s();
  if (proto.has_t()) {
    NNC_ASSIGN_OR_RETURN(attr.t, onnx_io::tensorFromProto(*proto.mutable_t(), external_));
  }
  if (proto.has_sparse_tensor()) {
    NNC_ASSIGN_OR_RETURN(attr.sparse, sparseFromProto(*proto.mutable_sparse_tensor()));
  }
  if (proto.has_g()) {
    attr.g = std::make_unique<Graph>(&graph);
    NNC_RETURN_IF_ERROR(importGraph(*proto.mutable_g(), *attr.g).withContext("subgraph '" + attr.name + "'"));
  }
  attr.floats.assign(proto.floats().begin(), proto.floats().end());
  attr.ints.assign(proto.ints().begin(), proto.ints().end());
  attr.strings.assign(proto.strings().begin(), proto.strings().end());
  for (auto& t : *proto.mutable_tensors()) {
    NNC_ASSIGN_OR_RETURN(Tensor tensor, onnx_io::tensorFromProto(t, external_));
    attr.tensors.push_back(std::move(tensor));
  }
  for (auto& g : *proto.mutable_graphs()) {
    attr.graphs.push_back(std::make_unique<Graph>(&graph));
    NNC_RETURN_IF_ERROR(importGraph(g, *attr.graphs.back()).withContext("subgraph '" + attr.name + "'"));
  }
  for (auto& s : *proto.mutable_sparse_tensors()) {
    NNC_ASSIGN_OR_RETURN(SparseTensor sparse, sparseFromProto(s));
    attr.sparse_tensors.push_back(std::move(sparse));
  }
  if (proto.has_tp()) attr.tp = typeFromProto(proto.tp());
  for (const auto& tp : proto.type_protos()) attr.type_protos.push_back(typeFromProto(tp));
  return Status::ok();
}

// First pass: create each node and the values it produces.
Status Importer::defineNodes(google::protobuf::RepeatedPtrField<onnx::NodeProto>& protos, Graph& graph,
                             std::vector<Node*>& nodes) {
  for (auto& np : protos) {
    Node* node = graph.appendNode(np.op_type(), np.domain());
    node->name = np.name();
    node->doc_string = np.doc_string();
    node->unknown_fields = unknownFieldBytes(np);
    if (np.op_type().empty()) return invalidModel(node->describe() + " has no op_type");
    for (const auto& out : np.output()) {
      if (out.empty()) {
        graph.appendNodeOutput(node, nullptr);
        continue;
      }
      Value* existing = graph.findValue(out);
      if (existing != nullptr) {
        const char* what = existing->producer() ? "another node" : existing->initializer() ? "an initializer" : "a graph input";
        return invalidModel(node->describe() + ": output '" + out + "' is also produced by " + what);
      }
      NNC_ASSIGN_OR_RETURN(Value * value, graph.addNamedValue(out));
      graph.appendNodeOutput(node, value);
    }
    nodes.push_back(node);
  }
  return Status::ok();
}

// Second pass: connect inputs (here or in enclosing graphs) and import attributes and subgraphs.
Status Importer::connectNodes(google::protobuf::RepeatedPtrField<onnx::NodeProto>& protos, Graph& graph,
                              const std::vector<Node*>& nodes) {
  for (int i = 0; i < protos.size(); ++i) {
    auto& np = protos[i];
    Node* node = nodes[static_cast<size_t>(i)];
    for (const auto& in : np.input()) {
      if (in.empty()) {
        graph.appendNodeInput(node, nullptr);
        continue;
      }
      Value* value = graph.resolve(in);
      if (value == nullptr)
        return invalidModel(node->describe() + ": input '" + in + "' is not produced by any node, graph input or initializer");
      graph.appendNodeInput(node, value);
    }
    for (auto& ap : *np.mutable_attribute()) {
      node->attributes.emplace_back();
      NNC_RETURN_IF_ERROR(importAttribute(ap, graph, node->attributes.back()).withContext(node->describe()));
    }
  }
  return Status::ok();
}

Status Importer::importGraph(onnx::GraphProto& proto, Graph& graph) {
  graph.name = proto.name();
  graph.doc_string = proto.doc_string();
  graph.unknown_fields = unknownFieldBytes(proto);
  for (const auto& info : proto.input()) {
    Value* value = graph.findValue(info.name());
    if (value != nullptr) return invalidModel("graph input '" + info.name() + "' is listed twice");
    NNC_ASSIGN_OR_RETURN(value, graph.addNamedValue(info.name()));
    applyValueInfo(info, value);
    graph.addInput(value);
  }
  for (auto& tp : *proto.mutable_initializer()) {
    // IR 3 lists initializers as graph inputs too: both are the same value.
    Value* value = graph.findValue(tp.name());
    if (value != nullptr && value->initializer()) return invalidModel("initializer '" + tp.name() + "' is defined twice");
    if (value == nullptr) {
      NNC_ASSIGN_OR_RETURN(value, graph.addNamedValue(tp.name()));
    }
    NNC_ASSIGN_OR_RETURN(Tensor tensor, onnx_io::tensorFromProto(tp, external_));
    graph.setInitializer(value, std::move(tensor));
  }
  for (auto& sp : *proto.mutable_sparse_initializer()) {
    const std::string& name = sp.values().name();
    Value* value = graph.findValue(name);
    if (value != nullptr && (value->initializer() || value->sparseInitializer()))
      return invalidModel("sparse initializer '" + name + "' is defined twice");
    if (value == nullptr) {
      NNC_ASSIGN_OR_RETURN(value, graph.addNamedValue(name));
    }
    NNC_ASSIGN_OR_RETURN(SparseTensor sparse, sparseFromProto(sp));
    graph.setSparseInitializer(value, std::move(sparse));
  }
  std::vector<Node*> nodes;
  NNC_RETURN_IF_ERROR(defineNodes(*proto.mutable_node(), graph, nodes));
  NNC_RETURN_IF_ERROR(connectNodes(*proto.mutable_node(), graph, nodes));
  for (const auto& info : proto.output()) {
    Value* value = graph.resolve(info.name());
    if (value == nullptr) return invalidModel("graph output '" + info.name() + "' is not produced by any node, input or initializer");
    if (value->graph() == &graph) applyValueInfo(info, value);
    graph.addOutput(value);
  }
  for (const auto& info : proto.value_info()) {
    Value* value = graph.findValue(info.name());
    // value_info may describe a name nothing defines; keep it so the model round-trips.
    if (value == nullptr) {
      NNC_ASSIGN_OR_RETURN(value, graph.addNamedValue(info.name()));
    }
    applyValueInfo(info, value);
    graph.addValueInfo(value);
  }
  for (const auto& qa : proto.quantization_annotation()) {
    QuantAnnotation annotation;
    annotation.tensor_name = qa.tensor_name();
    for (const auto& kv : qa.quant_parameter_tensor_names()) annotation.params.emplace_back(kv.key(), kv.value());
    annotation.unknown_fields = unknownFieldBytes(qa);
    graph.quantization_annotations.push_back(std::move(annotation));
  }
  return Status::ok();
}

Status Importer::importFunction(onnx::FunctionProto& proto, Function& function) {
  function.name = proto.name();
  function.domain = proto.domain();
  function.doc_string = proto.doc_string();
  function.attribute_names.assign(proto.attribute().begin(), proto.attribute().end());
  for (const auto& op : proto.opset_import()) function.opset_imports.emplace_back(op.domain(), op.version());
  function.unknown_fields = unknownFieldBytes(proto);
  function.body = std::make_unique<Graph>();
  Graph& body = *function.body;
  for (const auto& in : proto.input()) {
    NNC_ASSIGN_OR_RETURN(Value * value, body.addNamedValue(in));
    body.addInput(value);
  }
  std::vector<Node*> nodes;
  NNC_RETURN_IF_ERROR(defineNodes(*proto.mutable_node(), body, nodes));
  NNC_RETURN_IF_ERROR(connectNodes(*proto.mutable_node(), body, nodes));
  for (const auto& out : proto.output()) {
    Value* value = body.findValue(out);
    if (value == nullptr) return invalidModel("output '" + out + "' is not produced in the function");
    body.addOutput(value);
  }
  return Status::ok();
}

Status checkTopLevel(const onnx::ModelProto& proto) {
  if (!proto.has_graph()) return invalidModel("not an ONNX model: it has no graph");
  if (proto.ir_version() <= 0) return invalidModel("not an ONNX model: ir_version is missing");
  if (proto.ir_version() > 64) return invalidModel("not an ONNX model: ir_version " + std::to_string(proto.ir_version()) + " is not a known IR version");
  return Status::ok();
}

}  // namespace

Expected<Model> importModel(onnx::ModelProto& proto, const std::string& model_folder) {
  NNC_RETURN_IF_ERROR(checkTopLevel(proto));
  ExternalDataResolver external(model_folder);
  Importer importer(external);
  Model model;
  model.ir_version = proto.ir_version();
  for (const auto& op : proto.opset_import()) model.opset_imports.emplace_back(op.domain(), op.version());
  model.producer_name = proto.producer_name();
  model.producer_version = proto.producer_version();
  model.domain = proto.domain();
  model.has_model_version = proto.has_model_version();
  model.model_version = proto.model_version();
  model.doc_string = proto.doc_string();
  for (const auto& kv : proto.metadata_props()) model.metadata_props.emplace_back(kv.key(), kv.value());
  for (const auto& ti : proto.training_info()) model.training_info.push_back(ti.SerializeAsString());
  model.unknown_fields = onnx_io::unknownFieldBytes(proto);
  NNC_RETURN_IF_ERROR(importer.importGraph(*proto.mutable_graph(), *model.graph));
  for (auto& fp : *proto.mutable_functions()) {
    model.functions.emplace_back();
    NNC_RETURN_IF_ERROR(importer.importFunction(fp, model.functions.back()).withContext("function '" + fp.name() + "'"));
  }
  auto order = model.graph->topologicalOrder();
  if (!order) return order.status();
  return model;
}

Expected<Model> parseModel(const void* data, size_t size) {
  if (size == 0) return invalidModel("not an ONNX model: the input is empty");
  if (size > static_cast<size_t>(INT_MAX)) return invalidModel("a serialized model cannot exceed 2 GiB");
  onnx::ModelProto proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size))) return invalidModel("not an ONNX model: protobuf parsing failed");
  return importModel(proto, "");
}

Expected<Model> loadModel(const std::string& path) {
  auto size = fileSize(path);
  if (!size) return size.status();
  if (*size == 0) return invalidModel("'" + path + "' is empty, not an ONNX model");
  if (*size > static_cast<uint64_t>(INT_MAX))
    return invalidModel("'" + path + "' is larger than protobuf's 2 GiB limit; large weights must be in external data");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ioError("cannot open '" + path + "'");
  onnx::ModelProto proto;
  {
    // Streamed through a small buffer: the file is never held in memory beside the parsed proto.
    google::protobuf::io::FileInputStream file_stream(fd, 1 << 20);
    google::protobuf::io::CodedInputStream coded(&file_stream);
    coded.SetTotalBytesLimit(INT_MAX);
    bool parsed = proto.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
    ::close(fd);
    if (!parsed) return invalidModel("'" + path + "' is not an ONNX model (protobuf parsing failed: truncated or corrupt)");
  }
  auto model = importModel(proto, parentFolder(path));
  if (!model) return model.status().withContext(path);
  return model;
}

}  // namespace nnc

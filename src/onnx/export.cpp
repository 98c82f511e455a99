// ONNX export (see export.h).
//
// A file is written in three parts so that tensor bytes go straight from their buffers to the
// file: the ModelProto without its graph, then the graph field whose initializers are appended
// by hand (metadata message + raw_data field) after the rest of the graph. Protobuf allows
// fields in any order, so this is a valid ModelProto that every ONNX reader accepts.
#include "nncompress/onnx/export.h"

#include <onnx/onnx_pb.h>

#include <climits>

#include "nncompress/support/file_io.h"
#include "proto_util.h"

namespace nnc {
namespace {

using onnx_io::restoreUnknownFields;

// Decides where each tensor's bytes go while the proto is built.
class TensorSink {
 public:
  virtual ~TensorSink() = default;
  virtual Status put(const Tensor& tensor, onnx::TensorProto* proto) = 0;
};

class InlineSink final : public TensorSink {
 public:
  Status put(const Tensor& tensor, onnx::TensorProto* proto) override {
    onnx_io::tensorToProto(tensor, proto);
    return Status::ok();
  }
};

// Whether a tensor is stored in the external data file. Empty tensors and small integer tensors
// (shapes, axes, pads: under 4 KiB) stay inline whatever the threshold, because ONNX Runtime
// reads them during shape inference and refuses them as external data.
bool goesExternal(const Tensor& tensor, uint64_t threshold) {
  if (tensor.dtype == DType::kString || tensor.byteSize() == 0 || tensor.byteSize() < threshold) return false;
  return isFloatingPoint(tensor.dtype) || tensor.byteSize() >= 4096;
}

// Writes tensors of at least `threshold` bytes to an external data file.
class ExternalSink final : public TensorSink {
 public:
  ExternalSink(AtomicFileWriter* data, std::string location, uint64_t threshold)
      : data_(data), location_(std::move(location)), threshold_(threshold) {}

  Status put(const Tensor& tensor, onnx::TensorProto* proto) override {
    if (!goesExternal(tensor, threshold_)) {
      onnx_io::tensorToProto(tensor, proto);
      return Status::ok();
    }
    // Page alignment for large tensors lets readers (ONNX Runtime included) map them directly.
    uint64_t align = tensor.byteSize() >= (64u << 10) ? 4096 : 64;
    uint64_t offset = (data_->bytesWritten() + align - 1) / align * align;
    NNC_RETURN_IF_ERROR(data_->writeZeros(offset - data_->bytesWritten()));
    NNC_RETURN_IF_ERROR(data_->write(tensor.bytes(), tensor.byteSize()));
    onnx_io::tensorMetaToProto(tensor, proto);
    proto->set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* key, const std::string& value) {
      auto* kv = proto->add_external_data();
      kv->set_key(key);
      kv->set_value(value);
    };
    add("location", location_);
    add("offset", std::to_string(offset));
    add("length", std::to_string(tensor.byteSize()));
    return Status::ok();
  }

 private:
  AtomicFileWriter* data_;
  std::string location_;
  uint64_t threshold_;
};

void typeToProto(const ValueType& type, onnx::TypeProto* proto) {
  if (!type.denotation.empty()) proto->set_denotation(type.denotation);
  auto writeShape = [&](onnx::TensorShapeProto* shape) {
    for (const Dim& dim : type.dims) {
      auto* d = shape->add_dim();
      if (dim.value) d->set_dim_value(*dim.value);
      else if (!dim.param.empty()) d->set_dim_param(dim.param);
      if (!dim.denotation.empty()) d->set_denotation(dim.denotation);
    }
  };
  switch (type.kind) {
    case ValueType::Kind::kTensor: {
      auto* t = proto->mutable_tensor_type();
      t->set_elem_type(type.elem_type);
      if (type.has_shape) writeShape(t->mutable_shape());
      break;
    }
    case ValueType::Kind::kSparseTensor: {
      auto* t = proto->mutable_sparse_tensor_type();
      t->set_elem_type(type.elem_type);
      if (type.has_shape) writeShape(t->mutable_shape());
      break;
    }
    case ValueType::Kind::kSequence: {
      auto* s = proto->mutable_sequence_type();
      if (type.element) typeToProto(*type.element, s->mutable_elem_type());
      break;
    }
    case ValueType::Kind::kOptional: {
      auto* o = proto->mutable_optional_type();
      if (type.element) typeToProto(*type.element, o->mutable_elem_type());
      break;
    }
    case ValueType::Kind::kMap: {
      auto* m = proto->mutable_map_type();
      m->set_key_type(type.elem_type);
      if (type.element) typeToProto(*type.element, m->mutable_value_type());
      break;
    }
    case ValueType::Kind::kOpaque: {
      auto* o = proto->mutable_opaque_type();
      if (!type.opaque_domain.empty()) o->set_domain(type.opaque_domain);
      if (!type.opaque_name.empty()) o->set_name(type.opaque_name);
      break;
    }
    case ValueType::Kind::kUnset:
      break;
  }
  restoreUnknownFields(type.unknown_fields, proto);
}

void valueInfoToProto(const Value& value, onnx::ValueInfoProto* proto) {
  proto->set_name(value.name());
  if (value.type.kind != ValueType::Kind::kUnset || !value.type.unknown_fields.empty() || !value.type.denotation.empty())
    typeToProto(value.type, proto->mutable_type());
  if (!value.doc_string.empty()) proto->set_doc_string(value.doc_string);
  restoreUnknownFields(value.info_unknown_fields, proto);
}

class Exporter {
 public:
  explicit Exporter(TensorSink& sink) : sink_(sink) {}

  // `defer` (main graph only): initializers are left out of the proto and collected instead.
  Status exportGraph(const Graph& graph, onnx::GraphProto* proto, std::vector<const Tensor*>* defer);
  Status exportFunction(const Function& function, onnx::FunctionProto* proto);

 private:
  Status exportNodes(const Graph& graph, google::protobuf::RepeatedPtrField<onnx::NodeProto>* protos);
  Status exportAttribute(const Attribute& attr, onnx::AttributeProto* proto);
  Status exportSparse(const SparseTensor& sparse, onnx::SparseTensorProto* proto);
  TensorSink& sink_;
};

Status Exporter::exportSparse(const SparseTensor& sparse, onnx::SparseTensorProto* proto) {
  NNC_RETURN_IF_ERROR(sink_.put(sparse.values, proto->mutable_values()));
  NNC_RETURN_IF_ERROR(sink_.put(sparse.indices, proto->mutable_indices()));
  for (int64_t d : sparse.dims) proto->add_dims(d);
  return Status::ok();
}

Status Exporter::exportAttribute(const Attribute& attr, onnx::AttributeProto* proto) {
  proto->set_name(attr.name);
  if (!attr.ref_attr_name.empty()) proto->set_ref_attr_name(attr.ref_attr_name);
  if (!attr.doc_string.empty()) proto->set_doc_string(attr.doc_string);
  if (attr.type != AttrType::kUndefined) proto->set_type(static_cast<onnx::AttributeProto::AttributeType>(attr.type));
  switch (attr.type) {
    case AttrType::kFloat: proto->set_f(attr.f); break;
    case AttrType::kInt: proto->set_i(attr.i); break;
    case AttrType::kString: proto->set_s(attr.s); break;
    default: break;
  }
  if (attr.type == AttrType::kTensor || attr.t.dtype != DType::kUndefined)
    if (attr.t.dtype != DType::kUndefined) NNC_RETURN_IF_ERROR(sink_.put(attr.t, proto->mutable_t()));
  if (attr.g) NNC_RETURN_IF_ERROR(exportGraph(*attr.g, proto->mutable_g(), nullptr));
  if (attr.sparse.values.dtype != DType::kUndefined) NNC_RETURN_IF_ERROR(exportSparse(attr.sparse, proto->mutable_sparse_tensor()));
  for (float f : attr.floats) proto->add_floats(f);
  for (int64_t i : attr.ints) proto->add_ints(i);
  for (const auto& s : attr.strings) proto->add_strings(s);
  for (const auto& t : attr.tensors) NNC_RETURN_IF_ERROR(sink_.put(t, proto->add_tensors()));
  for (const auto& g : attr.graphs) NNC_RETURN_IF_ERROR(exportGraph(*g, proto->add_graphs(), nullptr));
  for (const auto& s : attr.sparse_tensors) NNC_RETURN_IF_ERROR(exportSparse(s, proto->add_sparse_tensors()));
  if (attr.type == AttrType::kTypeProto) typeToProto(attr.tp, proto->mutable_tp());
  for (const auto& tp : attr.type_protos) typeToProto(tp, proto->add_type_protos());
  restoreUnknownFields(attr.unknown_fields, proto);
  return Status::ok();
}

Status Exporter::exportNodes(const Graph& graph, google::protobuf::RepeatedPtrField<onnx::NodeProto>* protos) {
  for (const Node* node : graph.nodes()) {
    auto* np = protos->Add();
    for (const Value* in : node->inputs()) np->add_input(in ? in->name() : std::string());
    for (const Value* out : node->outputs()) np->add_output(out ? out->name() : std::string());
    if (!node->name.empty()) np->set_name(node->name);
    np->set_op_type(node->op_type);
    if (!node->domain.empty()) np->set_domain(node->domain);
    for (const Attribute& attr : node->attributes) NNC_RETURN_IF_ERROR(exportAttribute(attr, np->add_attribute()));
    if (!node->doc_string.empty()) np->set_doc_string(node->doc_string);
    restoreUnknownFields(node->unknown_fields, np);
  }
  return Status::ok();
}

Status Exporter::exportGraph(const Graph& graph, onnx::GraphProto* proto, std::vector<const Tensor*>* defer) {
  NNC_RETURN_IF_ERROR(exportNodes(graph, proto->mutable_node()));
  if (!graph.name.empty()) proto->set_name(graph.name);
  for (const Value* v : graph.initializers()) {
    onnx::TensorProto tp;
    if (defer != nullptr) {
      defer->push_back(v->initializer());
      continue;
    }
    auto* t = proto->add_initializer();
    NNC_RETURN_IF_ERROR(sink_.put(*v->initializer(), t));
    t->set_name(v->name());
  }
  for (const Value* v : graph.sparseInitializers()) {
    auto* sp = proto->add_sparse_initializer();
    NNC_RETURN_IF_ERROR(exportSparse(*v->sparseInitializer(), sp));
    sp->mutable_values()->set_name(v->name());
  }
  if (!graph.doc_string.empty()) proto->set_doc_string(graph.doc_string);
  for (const Value* v : graph.inputs()) valueInfoToProto(*v, proto->add_input());
  for (const Value* v : graph.outputs()) valueInfoToProto(*v, proto->add_output());
  for (const Value* v : graph.valueInfos()) valueInfoToProto(*v, proto->add_value_info());
  for (const QuantAnnotation& qa : graph.quantization_annotations) {
    auto* q = proto->add_quantization_annotation();
    q->set_tensor_name(qa.tensor_name);
    for (const auto& [key, value] : qa.params) {
      auto* kv = q->add_quant_parameter_tensor_names();
      kv->set_key(key);
      kv->set_value(value);
    }
    restoreUnknownFields(qa.unknown_fields, q);
  }
  restoreUnknownFields(graph.unknown_fields, proto);
  return Status::ok();
}

Status Exporter::exportFunction(const Function& function, onnx::FunctionProto* proto) {
  proto->set_name(function.name);
  for (const Value* v : function.body->inputs()) proto->add_input(v->name());
  for (const Value* v : function.body->outputs()) proto->add_output(v->name());
  for (const auto& a : function.attribute_names) proto->add_attribute(a);
  NNC_RETURN_IF_ERROR(exportNodes(*function.body, proto->mutable_node()));
  if (!function.doc_string.empty()) proto->set_doc_string(function.doc_string);
  for (const auto& [domain, version] : function.opset_imports) {
    auto* op = proto->add_opset_import();
    op->set_domain(domain);
    op->set_version(version);
  }
  if (!function.domain.empty()) proto->set_domain(function.domain);
  restoreUnknownFields(function.unknown_fields, proto);
  return Status::ok();
}

Status exportModelImpl(const Model& model, onnx::ModelProto* proto, TensorSink& sink,
                       std::vector<const Tensor*>* defer) {
  proto->set_ir_version(model.ir_version);
  for (const auto& [domain, version] : model.opset_imports) {
    auto* op = proto->add_opset_import();
    op->set_domain(domain);
    op->set_version(version);
  }
  if (!model.producer_name.empty()) proto->set_producer_name(model.producer_name);
  if (!model.producer_version.empty()) proto->set_producer_version(model.producer_version);
  if (!model.domain.empty()) proto->set_domain(model.domain);
  if (model.has_model_version) proto->set_model_version(model.model_version);
  if (!model.doc_string.empty()) proto->set_doc_string(model.doc_string);
  for (const auto& [key, value] : model.metadata_props) {
    auto* kv = proto->add_metadata_props();
    kv->set_key(key);
    kv->set_value(value);
  }
  for (const auto& bytes : model.training_info) proto->add_training_info()->ParseFromString(bytes);
  Exporter exporter(sink);
  NNC_RETURN_IF_ERROR(exporter.exportGraph(*model.graph, proto->mutable_graph(), defer));
  for (const Function& f : model.functions) NNC_RETURN_IF_ERROR(exporter.exportFunction(f, proto->add_functions()));
  restoreUnknownFields(model.unknown_fields, proto);
  return Status::ok();
}

// --- hand-written wire format for the streamed initializers ---------------------------------

size_t varintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

constexpr char kGraphTag = (7 << 3) | 2;        // ModelProto.graph
constexpr char kInitializerTag = (5 << 3) | 2;  // GraphProto.initializer
constexpr char kRawDataTag = (9 << 3) | 2;      // TensorProto.raw_data

struct StreamedTensor {
  std::string meta;  // TensorProto without raw_data
  const Tensor* tensor;
  bool has_raw;
  uint64_t entryBytes() const {
    uint64_t raw = has_raw ? 1 + varintSize(tensor->byteSize()) + tensor->byteSize() : 0;
    return meta.size() + raw;
  }
};

uint64_t totalTensorBytes(const Graph& graph) {
  uint64_t total = 0;
  forEachConstant(const_cast<Graph&>(graph), [&](const ConstantRef& c) { total += c.tensor().byteSize(); });
  return total;
}

// Protobuf cannot parse a message of 2 GiB or more; keep a margin for the non-tensor parts.
constexpr uint64_t kInlineLimit = (uint64_t{1} << 31) - (uint64_t{64} << 20);

}  // namespace

void exportModel(const Model& model, onnx::ModelProto* proto) {
  InlineSink sink;
  Status status = exportModelImpl(model, proto, sink, nullptr);
  NNC_ENFORCE(status.isOk(), status.message());
}

Expected<std::string> serializeModel(const Model& model) {
  if (totalTensorBytes(*model.graph) > kInlineLimit) return unsupported("the model is over 2 GiB; save it with external data");
  onnx::ModelProto proto;
  exportModel(model, &proto);
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) return unsupported("the model could not be serialized");
  return bytes;
}

Expected<SaveResult> saveModel(const Model& model, const std::string& path, const SaveOptions& options) {
  SaveResult result;
  bool external = options.external_data;
  if (!external && totalTensorBytes(*model.graph) > kInlineLimit) {
    external = true;
    result.external_forced = true;
  }
  NNC_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::create(path, options.overwrite));
  std::unique_ptr<AtomicFileWriter> data_writer;
  std::unique_ptr<TensorSink> sink;
  if (external) {
    std::string location = baseName(path) + ".data";
    result.external_path = parentFolder(path) + "/" + location;
    NNC_ASSIGN_OR_RETURN(data_writer, AtomicFileWriter::create(result.external_path, options.overwrite));
    sink = std::make_unique<ExternalSink>(data_writer.get(), location, options.external_threshold);
  } else {
    sink = std::make_unique<InlineSink>();
  }

  onnx::ModelProto proto;
  std::vector<const Tensor*> deferred;
  NNC_RETURN_IF_ERROR(exportModelImpl(model, &proto, *sink, &deferred));

  // Main-graph initializers: external ones go through the sink now; inline ones are streamed.
  std::vector<StreamedTensor> streamed;
  const auto& inits = model.graph->initializers();
  for (size_t i = 0; i < deferred.size(); ++i) {
    onnx::TensorProto tp;
    StreamedTensor entry{{}, deferred[i], false};
    if (external && goesExternal(*deferred[i], options.external_threshold)) {
      NNC_RETURN_IF_ERROR(sink->put(*deferred[i], &tp));
    } else {
      onnx_io::tensorMetaToProto(*deferred[i], &tp);
      if (deferred[i]->dtype == DType::kString)
        for (const auto& s : deferred[i]->strings) tp.add_string_data(s);
      else
        entry.has_raw = true;
    }
    tp.set_name(inits[i]->name());
    entry.meta = tp.SerializeAsString();
    streamed.push_back(std::move(entry));
  }

  onnx::GraphProto graph;
  graph.Swap(proto.mutable_graph());
  proto.clear_graph();
  std::string head = proto.SerializeAsString();
  std::string graph_bytes = graph.SerializeAsString();
  graph.Clear();
  uint64_t graph_size = graph_bytes.size();
  for (const auto& e : streamed) graph_size += 1 + varintSize(e.entryBytes()) + e.entryBytes();
  if (head.size() + 1 + varintSize(graph_size) + graph_size >= (uint64_t{1} << 31))
    return unsupported("the model is over 2 GiB even with external data (threshold " +
                       std::to_string(options.external_threshold) + " bytes); use a lower threshold");

  NNC_RETURN_IF_ERROR(writer->write(head.data(), head.size()));
  std::string prefix = std::string(1, kGraphTag) + varint(graph_size);
  NNC_RETURN_IF_ERROR(writer->write(prefix.data(), prefix.size()));
  NNC_RETURN_IF_ERROR(writer->write(graph_bytes.data(), graph_bytes.size()));
  for (const auto& e : streamed) {
    std::string entry_prefix = std::string(1, kInitializerTag) + varint(e.entryBytes());
    NNC_RETURN_IF_ERROR(writer->write(entry_prefix.data(), entry_prefix.size()));
    NNC_RETURN_IF_ERROR(writer->write(e.meta.data(), e.meta.size()));
    if (e.has_raw) {
      std::string raw_prefix = std::string(1, kRawDataTag) + varint(e.tensor->byteSize());
      NNC_RETURN_IF_ERROR(writer->write(raw_prefix.data(), raw_prefix.size()));
      NNC_RETURN_IF_ERROR(writer->write(e.tensor->bytes(), e.tensor->byteSize()));
    }
  }
  // No tensor reached the threshold: no data file (the temporary one is removed).
  if (data_writer && data_writer->bytesWritten() > 0) {
    result.external_bytes = data_writer->bytesWritten();
    NNC_RETURN_IF_ERROR(data_writer->commit());
  } else {
    result.external_path.clear();
  }
  result.model_bytes = writer->bytesWritten();
  NNC_RETURN_IF_ERROR(writer->commit());
  return result;
}

}  // namespace nnc

// StaticShapes: onnx::shape_inference over a copy of the model (large weights left out: shape
// inference only needs their types and dims; small int64 constants keep their values because
// Reshape's inference reads them).
#include "nncompress/analysis/static_shapes.h"

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <spdlog/spdlog.h>

#include "nncompress/onnx/export.h"

namespace nnc {
namespace {

std::optional<std::vector<int64_t>> shapeOfType(const ValueType& type) {
  if (!type.isTensor() || !type.has_shape) return std::nullopt;
  std::vector<int64_t> dims;
  for (const Dim& d : type.dims) dims.push_back(d.value && *d.value >= 0 ? *d.value : -1);
  return dims;
}

std::optional<std::vector<int64_t>> shapeOfProto(const onnx::TypeProto& type) {
  if (!type.has_tensor_type() || !type.tensor_type().has_shape()) return std::nullopt;
  std::vector<int64_t> dims;
  for (const auto& d : type.tensor_type().shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return dims;
}

// Shape inference needs types and small shape-like data only: drop float payloads above 1 KiB.
void dropLargePayloads(onnx::TensorProto* tensor) {
  if (tensor->data_type() == onnx::TensorProto::INT64 || tensor->data_type() == onnx::TensorProto::INT32) return;
  if (tensor->raw_data().size() > 1024) tensor->clear_raw_data();
}

}  // namespace

StaticShapes StaticShapes::infer(const Model& model) {
  StaticShapes shapes;
  onnx::ModelProto proto;
  exportModel(model, &proto);
  auto* graph = proto.mutable_graph();
  // Keep dims of dropped initializers known to inference through graph-level value types.
  for (auto& init : *graph->mutable_initializer()) dropLargePayloads(&init);
  for (auto& node : *graph->mutable_node())
    for (auto& attr : *node.mutable_attribute())
      if (attr.has_t()) dropLargePayloads(attr.mutable_t());
  try {
    onnx::ShapeInferenceOptions options{false, 0, true};  // no type check, node errors ignored, data propagation (Shape->Reshape)
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    spdlog::debug("static shapes: ONNX shape inference stopped: {}", e.what());
  }
  for (const auto& info : graph->value_info())
    if (auto dims = shapeOfProto(info.type())) shapes.by_name_[info.name()] = *dims;
  for (const auto& info : graph->output())
    if (auto dims = shapeOfProto(info.type())) shapes.by_name_.emplace(info.name(), *dims);
  // Declared types win over inferred ones only where inference knew nothing.
  for (const Value* v : model.graph->inputs())
    if (auto dims = shapeOfType(v->type)) shapes.by_name_.emplace(v->name(), *dims);
  for (const Value* v : model.graph->valueInfos())
    if (auto dims = shapeOfType(v->type)) shapes.by_name_.emplace(v->name(), *dims);
  return shapes;
}

std::optional<std::vector<int64_t>> StaticShapes::of(const Value* value) const {
  if (value == nullptr) return std::nullopt;
  if (auto c = constantRefOf(const_cast<Value*>(value))) return c->tensor().shape;
  auto it = by_name_.find(value->name());
  if (it != by_name_.end()) return it->second;
  return shapeOfType(value->type);
}

}  // namespace nnc

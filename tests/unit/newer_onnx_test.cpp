// Models newer than ONNX 1.12 (IR 10, opset 21, float8/int4 data, fields 1.12's schema does not
// know) and rarely used parts (sparse initializers, functions, IR 3 initializer inputs) survive
// import -> export unchanged.
#include <gtest/gtest.h>

#include "nncompress/analysis/model_summary.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "test_util.h"

namespace nnc {
namespace {

// Appends a length-delimited field (wire type 2) to a message's unknown fields, as a newer
// ONNX writer would have serialized it.
void addUnknownString(google::protobuf::Message* message, int field, const std::string& bytes) {
  message->GetReflection()->MutableUnknownFields(message)->AddLengthDelimited(field, bytes);
}

onnx::ModelProto roundTrip(onnx::ModelProto proto) {
  std::string bytes = proto.SerializeAsString();
  auto model = parseModel(bytes.data(), bytes.size());
  EXPECT_TRUE(model.isOk()) << model.status().message();
  onnx::ModelProto out;
  if (model) exportModel(*model, &out);
  return out;
}

TEST(NewerOnnx, Ir10Opset21FieldsAndTypesSurvive) {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17, "com.microsoft" : 1]>
g (float[N,4] x) => (float[N,4] y) { y = Relu(x) }
)");
  proto.set_ir_version(10);
  proto.mutable_opset_import(0)->set_version(21);
  auto* g = proto.mutable_graph();
  // int4 weights (packed) and float8 weights: data types 22 and 17.
  auto* w4 = g->add_initializer();
  w4->set_name("w_int4");
  w4->set_data_type(22);
  w4->add_dims(3);
  w4->set_raw_data(std::string("\x1f\x07", 2));
  auto* w8 = g->add_initializer();
  w8->set_name("w_f8");
  w8->set_data_type(17);
  w8->add_dims(2);
  w8->add_int32_data(0x38);
  w8->add_int32_data(0xb8);
  // NodeProto.overload (8) and NodeProto.metadata_props (9) are IR 10 fields.
  auto* node = g->mutable_node(0);
  addUnknownString(node, 8, "fast");
  onnx::StringStringEntryProto entry;
  entry.set_key("source");
  entry.set_value("layer1");
  addUnknownString(node, 9, entry.SerializeAsString());
  addUnknownString(g, 16, entry.SerializeAsString());  // GraphProto.metadata_props
  // A DequantizeLinear with block_size (opset 21) from another domain-free op: attributes are kept as is.
  auto* dq = g->add_node();
  dq->set_op_type("DequantizeLinear");
  dq->add_input("w_int4");
  dq->add_input("w_f8");
  dq->add_output("unused");
  auto* attr = dq->add_attribute();
  attr->set_name("block_size");
  attr->set_type(onnx::AttributeProto::INT);
  attr->set_i(2);

  onnx::ModelProto out = roundTrip(proto);
  test::normalizeTensorData(&proto);
  std::string diff;
  EXPECT_TRUE(test::equivalent(proto, out, &diff)) << diff;
  EXPECT_EQ(out.graph().node(0).GetReflection()->GetUnknownFields(out.graph().node(0)).field_count(), 2);
}

TEST(NewerOnnx, SparseInitializersAndFunctions) {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17, "local" : 1]>
g (float[4] x) => (float[4] y) { y = local.Double(x) }
<domain: "local", opset_import: ["" : 17]>
Double (a) => (b) { b = Add(a, a) }
)");
  auto* sp = proto.mutable_graph()->add_sparse_initializer();
  sp->add_dims(4);
  auto* values = sp->mutable_values();
  values->set_name("s");
  values->set_data_type(onnx::TensorProto::FLOAT);
  values->add_dims(1);
  values->add_float_data(2.5f);
  auto* indices = sp->mutable_indices();
  indices->set_data_type(onnx::TensorProto::INT64);
  indices->add_dims(1);
  indices->add_int64_data(3);

  onnx::ModelProto out = roundTrip(proto);
  test::normalizeTensorData(&proto);
  std::string diff;
  EXPECT_TRUE(test::equivalent(proto, out, &diff)) << diff;
  ASSERT_EQ(out.functions_size(), 1);
  EXPECT_EQ(out.functions(0).node(0).op_type(), "Add");

  std::string bytes = proto.SerializeAsString();
  auto model = parseModel(bytes.data(), bytes.size());
  ASSERT_TRUE(model.isOk());
  ModelSummary summary = summarizeModel(*model);
  EXPECT_EQ(summary.params, 4);  // dense size of the sparse initializer
  EXPECT_EQ(summary.zero_params, 3);
}

TEST(NewerOnnx, Ir3InitializersListedAsInputs) {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 7]>
g (float[2] x, float[2] w) => (float[2] y) <float[2] w = {1.0, 2.0}> { y = Add(x, w) }
)");
  proto.set_ir_version(3);
  onnx::ModelProto out = roundTrip(proto);
  ASSERT_EQ(out.graph().input_size(), 2);
  EXPECT_EQ(out.graph().input(1).name(), "w");
  ASSERT_EQ(out.graph().initializer_size(), 1);
  std::string bytes = proto.SerializeAsString();
  auto model = parseModel(bytes.data(), bytes.size());
  ASSERT_TRUE(model.isOk());
  Value* w = model->graph->findValue("w");
  EXPECT_TRUE(w->isGraphInput());
  EXPECT_NE(w->initializer(), nullptr);
  EXPECT_EQ(summarizeModel(*model).inputs.size(), 1u);  // inspect lists only the real input
}

}  // namespace
}  // namespace nnc

// Internal helpers shared by the ONNX importer and exporter: unknown-field round trip and
// TensorProto <-> Tensor conversion.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <memory>
#include <string>

#include "nncompress/ir/tensor.h"
#include "nncompress/support/file_io.h"

namespace nnc::onnx_io {

// Wire bytes of the fields a message carries that ONNX 1.12's schema does not know.
std::string unknownFieldBytes(const google::protobuf::Message& message);
// Puts such bytes back into a message.
void restoreUnknownFields(const std::string& bytes, google::protobuf::Message* message);

// Resolves external-data locations relative to the model's folder and keeps each file mapped once.
class ExternalDataResolver {
 public:
  explicit ExternalDataResolver(std::string model_folder) : folder_(std::move(model_folder)) {}
  // The bytes of `location` at [offset, offset + length), checked to stay in the model folder and file.
  Expected<std::shared_ptr<const Buffer>> slice(const std::string& location, uint64_t offset,
                                                std::optional<uint64_t> length, uint64_t expected);

 private:
  std::string folder_;  // empty: external data is refused (model read from memory)
  std::map<std::string, std::shared_ptr<const MappedFile>> files_;
};

// Converts a TensorProto to a Tensor, moving raw_data out of the proto (no copy) and mapping
// external data. Checks dims, type and data length; errors name the tensor.
Expected<Tensor> tensorFromProto(onnx::TensorProto& proto, ExternalDataResolver& external);

// Fills a TensorProto's metadata (dims, type, name, doc) without its data.
void tensorMetaToProto(const Tensor& tensor, onnx::TensorProto* proto);
// Fills a TensorProto completely, data inline (raw_data, or string_data for strings).
void tensorToProto(const Tensor& tensor, onnx::TensorProto* proto);

}  // namespace nnc::onnx_io

// ONNX export: IR Model -> ModelProto / .onnx file. Output is deterministic: the same IR gives
// byte-identical files. Files are written atomically, large tensors are streamed from their
// buffers (never copied into a second in-memory model), and external data is written when
// asked or when the model would pass protobuf's 2 GiB limit.
#pragma once

#include <cstdint>
#include <string>

#include "nncompress/ir/graph.h"

namespace onnx {
class ModelProto;
}

namespace nnc {

struct SaveOptions {
  bool overwrite = false;           // replace an existing output (--force)
  bool external_data = false;       // store large tensors in "<output>.data"
  uint64_t external_threshold = 1024;  // tensors of at least this many bytes go external
};

struct SaveResult {
  uint64_t model_bytes = 0;
  uint64_t external_bytes = 0;   // size of the external data file, 0 when none was written
  std::string external_path;     // its path, empty when none was written
  bool external_forced = false;  // external data was needed to stay under 2 GiB
};

// Writes the model to `path` (atomically: temporary file, then rename).
Expected<SaveResult> saveModel(const Model& model, const std::string& path, const SaveOptions& options);

// The model as a ModelProto with all tensor data inline.
void exportModel(const Model& model, onnx::ModelProto* proto);

// The model serialized with all data inline; fails past protobuf's 2 GiB limit.
Expected<std::string> serializeModel(const Model& model);

}  // namespace nnc

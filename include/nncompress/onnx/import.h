// ONNX import: ModelProto (any IR version 3-11, any opset, any domain) -> IR Model. Nothing
// here depends on libonnx knowing an opset: operators are kept by name and domain.
#pragma once

#include <cstddef>
#include <string>

#include "nncompress/ir/graph.h"

namespace onnx {
class ModelProto;
}

namespace nnc {

// Reads an .onnx file. External data is resolved relative to the file's folder and mapped,
// not copied. Errors name the file and the offending tensor, node or value.
Expected<Model> loadModel(const std::string& path);

// Parses a serialized model held in memory (external data is refused: there is no folder).
Expected<Model> parseModel(const void* data, size_t size);

// Converts a parsed ModelProto, moving tensor data out of it. `model_folder` is where external
// data files are looked up ("" refuses external data).
Expected<Model> importModel(onnx::ModelProto& proto, const std::string& model_folder);

}  // namespace nnc

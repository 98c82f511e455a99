// Static shapes of a graph's values, from ONNX shape inference (libonnx) on the exported model,
// the value types the model declares, and the constants themselves. Unknown dims are -1; a value
// whose rank is unknown has no entry. Used by analyses that must know how a Reshape or Flatten
// rearranges a tensor without running the model.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nncompress/ir/graph.h"

namespace nnc {

class StaticShapes {
 public:
  // Infers the shapes of the main graph's values. Shape inference errors are not fatal: values it
  // could not type simply stay unknown.
  static StaticShapes infer(const Model& model);

  // The shape of a main-graph value (-1 per unknown dim), or nothing when its rank is unknown.
  std::optional<std::vector<int64_t>> of(const Value* value) const;

 private:
  std::map<std::string, std::vector<int64_t>> by_name_;
};

}  // namespace nnc

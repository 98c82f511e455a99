// Element types of every tensor value of a model (main graph and subgraphs), for passes that
// rewrite by type (float conversion, quantization). Models often declare no value_info for
// intermediates, so the types are propagated from the inputs and constants through simple
// per-op rules; a declared type (input, output, value_info) always wins. A value whose type the
// rules cannot tell (an op of another domain without value_info, say) is unknown, and passes
// leave the nodes touching it alone.
#pragma once

#include <map>
#include <optional>

#include "nncompress/ir/graph.h"

namespace nnc {

class DTypeMap {
 public:
  // Walks the model once (parents before subgraphs, stored order).
  explicit DTypeMap(Model& model);
  // The element type of a tensor value, or nothing when unknown.
  std::optional<DType> of(const Value* value) const;
  // Records a type (for values a pass creates or retypes).
  void set(const Value* value, DType type) { types_[value] = type; }

 private:
  void visitNode(const Node& node);
  std::map<const Value*, DType> types_;
};

}  // namespace nnc

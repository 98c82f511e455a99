// Node names for nodes a pass creates: ONNX Runtime refuses a graph with two nodes of the same
// name, so a new name gets "_2", "_3", ... when its hint is taken anywhere in the model.
#pragma once

#include <set>
#include <string>

#include "nncompress/ir/graph.h"

namespace nnc {

class UniqueNodeNames {
 public:
  explicit UniqueNodeNames(Model& model) {
    forEachNode(*model.graph, [&](Node& node) {
      if (!node.name.empty()) taken_.insert(node.name);
    });
  }
  std::string make(const std::string& hint) {
    std::string name = hint;
    for (int n = 2; taken_.count(name); ++n) name = hint + "_" + std::to_string(n);
    taken_.insert(name);
    return name;
  }

 private:
  std::set<std::string> taken_;
};

}  // namespace nnc

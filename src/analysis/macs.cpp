// staticMacs: per node, MACs = output elements (batch 1) x reduction length.
#include "nncompress/analysis/macs.h"

#include "nncompress/analysis/static_shapes.h"

namespace nnc {
namespace {

// Product of dims, the first taken as 1; nothing when another dim is unknown.
std::optional<int64_t> perSample(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) {
    if (dims[i] < 0) return std::nullopt;
    n *= dims[i];
  }
  return n;
}

}  // namespace

std::optional<int64_t> staticMacs(const Model& model) {
  const StaticShapes shapes = StaticShapes::infer(model);
  int64_t total = 0;
  for (Node* n : model.graph->nodes()) {
    const bool default_domain = n->domain.empty() || n->domain == "ai.onnx";
    const std::string& op = n->op_type;
    if (!default_domain || (op != "Conv" && op != "ConvInteger" && op != "ConvTranspose" && op != "Gemm" && op != "MatMul"))
      continue;
    auto out = shapes.of(n->output(0));
    auto a = shapes.of(n->input(0));
    auto b = shapes.of(n->input(1));
    if (!out || !a || !b || b->empty() || a->empty()) return std::nullopt;
    int64_t reduce = 1;
    std::optional<int64_t> elements = perSample(*out);
    if (op == "ConvTranspose") {
      // Every input element meets C_out/group x kernel weights.
      elements = perSample(*a);
      for (size_t i = 1; i < b->size(); ++i) reduce *= (*b)[i];
    } else if (op == "Conv" || op == "ConvInteger") {
      for (size_t i = 1; i < b->size(); ++i) reduce *= (*b)[i];
    } else if (op == "Gemm") {
      reduce = n->attrInt("transA", 0) ? (*a)[0] : a->back();
    } else {
      reduce = a->back();
    }
    if (!elements || reduce < 0) return std::nullopt;
    total += *elements * reduce;
  }
  return total;
}

}  // namespace nnc

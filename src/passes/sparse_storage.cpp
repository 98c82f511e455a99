// sparse-storage: stores floating-point constants of the main graph (initializers and Constant
// nodes) as ONNX sparse initializers when that makes them smaller. The sparse form is ONNX's COO
// with linearized int64 indices [NNZ] (the only index type the ONNX checker accepts; ONNX Runtime
// densifies such initializers when it loads the model), so a float32 tensor gets smaller only
// below 1/3 density: 4 bytes per value + 8 per index against 4 per element.
//   min_saving=B   convert only when at least B bytes are saved (default 64: not worth it below)
// Needs IR version 6 or newer (sparse_initializer); older models are left as they are.
// Initializers that are also graph inputs (overridable defaults) stay dense.
#include <spdlog/spdlog.h>

#include "nncompress/ir/sparse.h"
#include "nncompress/passes/pass.h"

namespace nnc {
namespace {

class SparseStoragePass final : public Pass {
 public:
  explicit SparseStoragePass(int64_t min_saving) : min_saving_(min_saving) {}
  std::string name() const override { return "sparse-storage"; }
  Expected<PassResult> run(Model& model, PassContext& context) override;

 private:
  int64_t min_saving_;
};

// Whether the sparse form of `t` saves at least `min_saving` bytes.
bool worthSparse(const Tensor& t, int64_t min_saving) {
  if (!isFloatingPoint(t.dtype) || dtypeBits(t.dtype) < 8 || t.elementCount() == 0) return false;
  const uint64_t sparse = sparseStorageBytes(t);
  return sparse + static_cast<uint64_t>(min_saving) <= t.byteSize();
}

Expected<PassResult> SparseStoragePass::run(Model& model, PassContext& /*context*/) {
  PassResult result;
  Graph& graph = *model.graph;
  int64_t converted = 0;
  uint64_t dense_bytes = 0, sparse_bytes = 0;
  auto& tensors = result.stats["tensors"] = nlohmann::ordered_json::array();
  if (model.ir_version < 6) {
    result.summary = "IR version " + std::to_string(model.ir_version) + " has no sparse initializers; nothing changed";
    result.stats["converted"] = 0;
    return result;
  }
  // Collected first: converting edits the lists being walked.
  std::vector<std::pair<Value*, Node*>> candidates;
  for (Value* v : graph.initializers())
    if (!v->isGraphInput() && worthSparse(*v->initializer(), min_saving_)) candidates.emplace_back(v, nullptr);
  for (Node* node : graph.nodes()) {
    if (node->op_type != "Constant" || !(node->domain.empty() || node->domain == "ai.onnx")) continue;
    auto c = constantRefOf(node->output(0));
    if (c && !c->value->isGraphOutput() && worthSparse(c->tensor(), min_saving_)) candidates.emplace_back(c->value, node);
  }
  for (auto [value, constant_node] : candidates) {
    Tensor dense = constant_node ? constant_node->attr("value")->t : *value->initializer();
    SparseTensor sparse = sparsify(dense);
    const uint64_t bytes = sparse.values.byteSize() + sparse.indices.byteSize();
    tensors.push_back({{"name", value->name()}, {"dense_bytes", dense.byteSize()}, {"sparse_bytes", bytes},
                       {"nonzeros", sparse.values.elementCount()}});
    dense_bytes += dense.byteSize();
    sparse_bytes += bytes;
    if (constant_node) graph.eraseNodeKeepOutputs(constant_node);
    else graph.removeInitializer(value);
    graph.setSparseInitializer(value, std::move(sparse));
    ++converted;
  }
  result.changed = converted > 0;
  result.stats["converted"] = converted;
  result.stats["dense_bytes"] = dense_bytes;
  result.stats["sparse_bytes"] = sparse_bytes;
  result.summary = std::to_string(converted) + " tensor(s) stored sparse, " + std::to_string(dense_bytes) + " -> " +
                   std::to_string(sparse_bytes) + " bytes";
  return result;
}

}  // namespace

Expected<std::unique_ptr<Pass>> createSparseStoragePass(const PassSpec& spec) {
  PassOptions options(spec);
  NNC_ASSIGN_OR_RETURN(int64_t min_saving, options.integer("min_saving", 64));
  if (min_saving < 0) return invalidArgument("sparse-storage: min_saving must be >= 0");
  NNC_RETURN_IF_ERROR(options.checkNoUnknownOptions());
  return std::unique_ptr<Pass>(std::make_unique<SparseStoragePass>(min_saving));
}

}  // namespace nnc

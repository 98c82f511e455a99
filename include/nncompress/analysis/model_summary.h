// What `nncompress inspect` reports about a model: header facts, inputs and outputs, parameter
// counts by type, the op histogram (subgraphs included) and a per-layer weight table.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nncompress/ir/graph.h"

namespace nnc {

struct TensorSignature {
  std::string name;
  std::string dtype;               // "float", "int64", ... or "sequence", "map", ... for non-tensors
  std::vector<std::string> shape;  // "1", "N", "?" per dim
  bool has_shape = false;          // false: unknown rank
};

struct WeightInfo {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
};

// One node that consumes constant tensors. A constant used by several nodes is counted at
// the first of them, so the shares add up to the constants that nodes use.
struct LayerSummary {
  std::string name;  // node name, or "<op>#<index>" when the node has none
  std::string op;
  std::vector<WeightInfo> weights;
  int64_t params = 0;
  double share = 0;          // params / total params
  double zero_fraction = 0;  // zero elements / params
  double sparsity = 0;       // zero fraction of the largest weight (what pruning acts on)
};

struct ModelSummary {
  int64_t ir_version = 0;
  std::vector<std::pair<std::string, int64_t>> opsets;
  std::string producer;
  std::vector<TensorSignature> inputs, outputs;
  std::map<std::string, int64_t> params_by_dtype;  // elements of every constant tensor
  int64_t params = 0;
  uint64_t weight_bytes = 0;
  int64_t zero_params = 0;
  int64_t node_count = 0;  // including subgraph nodes
  std::map<std::string, int64_t> op_histogram;
  std::vector<LayerSummary> layers;
  std::vector<std::pair<std::string, std::string>> metadata;
};

ModelSummary summarizeModel(Model& model);

// Number of elements of a tensor that are zero (+0 and -0 for floating-point types).
int64_t countZeros(const Tensor& tensor);

// "float[N,3,224,224]"-style text for a signature.
std::string formatSignature(const TensorSignature& signature);

}  // namespace nnc

// Shared by the MatMul/Gemm weight passes (quantize-dynamic, quantize-weights): which nodes are
// candidates (a constant 2-D float32 weight, a float32 activation, not excluded by name), the
// weight as a [K, N] matrix whatever the Gemm's transB, symmetric int8 quantization of it, and
// small graph-building helpers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nncompress/ir/graph.h"
#include "passes/dtype_inference.h"

namespace nnc {

// Names separated by '+', ':' or ',' (pipeline option values cannot contain ',').
std::vector<std::string> splitNameList(const std::string& text);
// Glob match ('*' any run, '?' one character) of a node's name (or, for an unnamed node, its
// first output's name) against any of the patterns.
bool nodeMatchesAny(const Node& node, const std::vector<std::string>& patterns);

// A MatMul or Gemm whose weight (input B) is a constant.
struct WeightedMatMul {
  Node* node = nullptr;
  Value* weight = nullptr;        // input 1
  std::vector<float> kn;          // the weight as row-major [K, N] (transposed for Gemm transB=1)
  int64_t k = 0, n = 0;
  float alpha = 1.0f, beta = 1.0f;  // Gemm's (1 for MatMul)
  Value* bias = nullptr;          // Gemm's C, or null
};

// Why a node is not a candidate ("" when it is); `candidate` is filled when it is.
std::string matmulCandidate(Node& node, const DTypeMap& types, WeightedMatMul* candidate);

// Every MatMul/Gemm of the model (subgraphs included), in a stable order (parents first, stored
// order), with the reason it is skipped ("" for candidates).
std::vector<std::pair<WeightedMatMul, std::string>> findMatMuls(Model& model, const DTypeMap& types,
                                                                 const std::vector<std::string>& exclude);

// Symmetric int8 quantization, ONNX Runtime's rule for weights: scale = max|w| / qmax (qmax 127,
// or 63 with reduce_range), zero point 0, q = round_half_even(w / scale) clamped to [-qmax, qmax].
// Per column of [K, N] when per_channel (N scales), else one scale. A zero range gives scale 1.
struct QuantizedWeight {
  std::vector<int8_t> q;      // [K, N]
  std::vector<float> scales;  // [N] or [1]
};
QuantizedWeight quantizeSymmetric(const std::vector<float>& kn, int64_t k, int64_t n, bool per_channel, int qmax);

// Graph helpers: a new initializer value, and a node inserted before `before` (or appended).
Value* addInitializer(Graph& graph, const std::string& hint, Tensor tensor);
Node* insertNode(Graph& graph, Node* before, const std::string& op, const std::vector<Value*>& inputs,
                 const std::vector<Value*>& outputs, const std::string& name);
void setIntAttr(Node& node, const std::string& name, int64_t value);

// Removes constants (initializers, Constant nodes) left without readers by a rewrite.
void eraseIfUnused(Value* constant);

}  // namespace nnc

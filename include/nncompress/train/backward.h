// Reverse-mode building blocks: a gradient buffer (Grad), what one op's backward sees
// (BackwardContext) and the table of backward functions by op type (src/train/backward_*.cpp,
// one file per op family, listed in src/train/backward_registry.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nncompress/ir/graph.h"

namespace nnc::train {

// A float32 gradient (or any dense float buffer) with its shape; row-major.
struct Grad {
  std::vector<int64_t> shape;
  std::vector<float> data;
  static Grad zeros(std::vector<int64_t> shape);
};

// Everything the backward of one node sees: the forward inputs and outputs the tape kept, the
// gradients of the loss with respect to the outputs, and which inputs need a gradient.
struct BackwardContext {
  explicit BackwardContext(const Node& n) : node(n) {}
  const Node& node;
  int64_t opset = 0;
  std::vector<const Tensor*> inputs;       // nullptr: omitted optional input
  std::vector<const Tensor*> outputs;
  std::vector<const Grad*> output_grads;   // nullptr: no gradient flows into that output
  std::vector<bool> wants;                 // per input: does the loss need its gradient?
  std::vector<std::optional<Grad>> input_grads;  // filled by the backward for wanted inputs

  const float* in(size_t i) const;    // float data of input i (must be float32)
  const float* out(size_t i) const;
  bool want(size_t i) const { return i < wants.size() && wants[i]; }
  void setGrad(size_t i, Grad g) { input_grads.at(i) = std::move(g); }
  Status fail(const std::string& message) const;
};

using BackwardFn = Status (*)(BackwardContext&);

// The backward for an op (ai.onnx domain ""), or nullptr when none is implemented.
BackwardFn findBackward(const std::string& domain, const std::string& op_type);
// Every op with a backward, sorted (for messages and docs).
std::vector<std::string> backwardOpNames();

// --- helpers shared by the op families ---
// The shape two shapes broadcast to (numpy rules); fails when they do not broadcast.
Expected<std::vector<int64_t>> broadcastShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
// For every element of `out_shape`, the index of the `in_shape` element broadcast into it.
std::vector<int64_t> broadcastSourceIndex(const std::vector<int64_t>& out_shape, const std::vector<int64_t>& in_shape);
// Sums a gradient of the broadcast shape back to the input's shape.
Grad reduceToShape(const std::vector<float>& grad, const std::vector<int64_t>& out_shape,
                   const std::vector<int64_t>& in_shape);

}  // namespace nnc::train

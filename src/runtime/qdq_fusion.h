// QDQ groups a Session runs as integer kernels instead of float emulation:
//   DequantizeLinear(x_q) ─┐
//   DequantizeLinear(w_q) ─┼─> Conv / MatMul (-> Relu) -> QuantizeLinear -> y_q
//   [DequantizeLinear(b_int32)] (Conv only)
// becomes one step of the internal QdqConv / QdqMatMul kernel (src/ops/qdq_ops.h): int32
// accumulation and requantization as ONNX Runtime's QLinearConv / QLinearMatMul (float multiplier
// x_scale * w_scale / y_scale, round half to even, saturate). The model is not changed: the plan
// only skips the group's nodes (a DequantizeLinear whose output has other readers still runs).
#pragma once

#include <memory>
#include <vector>

#include "nncompress/ir/graph.h"

namespace nnc {

struct QdqGroup {
  const Node* quantize = nullptr;          // the group's last node: the fused step runs in its place
  std::vector<const Node*> absorbed;       // nodes the plan skips (the Q, the op, a Relu, single-use DQs)
  std::unique_ptr<Node> fused;             // QdqConv / QdqMatMul with the op's attributes (+ relu)
  std::vector<const Value*> inputs;        // x_q, x_scale, x_zp, w_q, w_scale, w_zp, y_scale, y_zp[, b_q]
  const Value* output = nullptr;           // the QuantizeLinear's output
};

// The fusable groups of `graph` (not its subgraphs), in graph order. `opset` is the model's
// default-domain opset (DequantizeLinear 21's block_size is not fused).
std::vector<QdqGroup> findQdqGroups(const Graph& graph, int64_t opset);

}  // namespace nnc

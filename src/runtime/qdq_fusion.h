// QDQ groups a Session runs as integer kernels instead of float emulation:
//   DequantizeLinear(x_q) ─┐
//   DequantizeLinear(w_q) ─┼─> Conv / MatMul / Gemm (-> Relu) -> QuantizeLinear -> y_q
//   [DequantizeLinear(b_int32)]
// becomes one step of the internal QdqConv / QdqMatMul / QdqGemm kernel (src/ops/qdq_ops.h): int32
// accumulation and requantization as ONNX Runtime's QLinearConv / QLinearMatMul (float multiplier
// x_scale * w_scale / y_scale, round half to even, saturate). MatMul and Gemm also fuse without the
// QuantizeLinear (float output: the int32 sums times x_scale * w_scale, + a float C for Gemm).
// Constant int8 weights are packed here, once per Session, into the fused node's "packed_w"
// attribute (src/ops/qgemm_u8s8.h). Also DQ(a), DQ(b) -> Add -> Q as QLinearAdd, other Adds and
// Muls of two DQs as QdqBinary (src/ops/qdq_elementwise.cpp), and
// DQ -> MaxPool -> Q with equal parameters as MaxPool on the 8-bit values. The model is not
// changed: the plan only skips the group's nodes (a DequantizeLinear whose output has other
// readers still runs).
#pragma once

#include <memory>
#include <vector>

#include "nncompress/ir/graph.h"

namespace nnc {

struct QdqGroup {
  const Node* quantize = nullptr;          // the group's last node: the fused step runs in its place
  std::vector<const Node*> absorbed;       // nodes the plan skips (the Q, the op, a Relu, single-use DQs)
  std::unique_ptr<Node> fused;             // the step's kernel node (op attributes, relu, packed_w)
  std::vector<const Value*> inputs;        // x_q, x_scale, x_zp, w_q, w_scale, w_zp, y_scale, y_zp, b_q, C
                                           // (nullptr: absent); QLinearAdd's / MaxPool's inputs
  const Value* output = nullptr;           // the QuantizeLinear's output (the op's, for float outputs)
};

// The fusable groups of `graph` (not its subgraphs), in graph order. `opset` is the model's
// default-domain opset (DequantizeLinear 21's block_size is not fused).
std::vector<QdqGroup> findQdqGroups(const Graph& graph, int64_t opset);

}  // namespace nnc

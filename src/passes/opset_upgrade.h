// Raising a model's default-domain opset import to a newer version when that does not change
// what any of its nodes computes. Used by quantize-weights{bits=4}: int4 weights and
// DequantizeLinear's block_size need opset 21. docs/quantization_weights.md lists the rules.
#pragma once

#include "nncompress/ir/graph.h"

namespace nnc {

// Upgrades the "" / "ai.onnx" import to `target` (and ir_version to what that opset needs).
// From opset 9 or 10 to 11: Slice and Clip attributes become inputs; TopK, Pad, Upsample, Resize
// and Scatter are refused.
// From opset 11 or 12 to 13: Split's `split`, Squeeze/Unsqueeze/ReduceSum's `axes` and Dropout's
// `ratio` become inputs; Softmax/LogSoftmax/Hardmax get an explicit axis, or, when their axis is
// not the last one, become Reshape(op(Flatten(x, axis)), Shape(x)) (the old 2-D semantics); a
// Resize with tf_half_pixel_for_nn is refused. Opset 9 or 10 to 13 and later goes through 11.
// From opset 13 on: Reduce* nodes whose `axes` is an attribute (before opset 18) get it as an
// input instead; a model with an op whose meaning changed between its opset and `target`
// (RoiAlign before 16, GridSample and DFT before 20, GroupNormalization before 21) is refused.
// Other starting points (before 9) and targets 12 are refused. Errors name the op; `rewritten`
// counts the nodes changed. Nothing is changed when the upgrade is refused.
Status upgradeOpset(Model& model, int64_t target, int64_t* rewritten);

}  // namespace nnc

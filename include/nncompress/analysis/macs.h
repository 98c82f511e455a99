// Multiply-accumulate count of a model's linear layers (Conv, ConvInteger, ConvTranspose, Gemm,
// MatMul) for one sample, from static shapes: the first dim of every tensor (the batch) counts
// as 1. FLOPs are about 2 x MACs. Used to report what structured pruning saves.
#pragma once

#include <cstdint>
#include <optional>

#include "nncompress/ir/graph.h"

namespace nnc {

// Nothing when a dim that the count needs (other than the batch) is not known statically,
// e.g. the height and width of a detector with dynamic input size.
std::optional<int64_t> staticMacs(const Model& model);

}  // namespace nnc

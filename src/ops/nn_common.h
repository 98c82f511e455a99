// Shared by the nn op family (conv, conv_transpose, pool, normalization, resize): the window
// geometry of Conv/Pool (kernel, strides, dilations, pads from attributes or auto_pad) and the
// per-file registration functions that nn.cpp calls.
#pragma once

#include <string>
#include <vector>

#include "op_util.h"

namespace nnc::ops {

void registerConvOps(OpRegistry& registry);
void registerConvTransposeOps(OpRegistry& registry);
void registerPoolOps(OpRegistry& registry);
void registerNormalizationOps(OpRegistry& registry);
void registerResizeOps(OpRegistry& registry);

// The sliding-window geometry over the spatial dims of an N x C x D1 x ... x Dk tensor.
struct WindowGeometry {
  std::vector<int64_t> in;         // input spatial dims
  std::vector<int64_t> kernel;     // kernel spatial dims
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pad_begin;
  std::vector<int64_t> pad_end;
  std::vector<int64_t> out;        // output spatial dims
  size_t rank() const { return in.size(); }
  int64_t inSize() const { return product(in); }
  int64_t outSize() const { return product(out); }
  int64_t kernelSize() const { return product(kernel); }
};

// Reads strides/dilations/pads/auto_pad and computes the output dims of a Conv or a Pool.
// `kernel` comes from the kernel_shape attribute or the weight. ceil_mode is the pooling flag
// (rounds the output size up, but never starts a window inside the end padding).
Expected<WindowGeometry> windowGeometry(const KernelContext& ctx, const std::vector<int64_t>& in_spatial,
                                        const std::vector<int64_t>& kernel, bool ceil_mode);

}  // namespace nnc::ops

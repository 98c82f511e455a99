// The nn op family's entry point (Conv, ConvTranspose, pooling, normalization, Resize/Upsample)
// and the window geometry shared by Conv and the pools.
#include "nn_common.h"

namespace nnc::ops {

Expected<WindowGeometry> windowGeometry(const KernelContext& ctx, const std::vector<int64_t>& in_spatial,
                                        const std::vector<int64_t>& kernel, bool ceil_mode) {
  const size_t k = in_spatial.size();
  WindowGeometry g;
  g.in = in_spatial;
  g.kernel = kernel;
  if (kernel.size() != k) return ctx.fail("kernel has " + std::to_string(kernel.size()) + " spatial dims, input has " + std::to_string(k));
  auto fill = [&](const char* name, int64_t fallback) -> Expected<std::vector<int64_t>> {
    std::vector<int64_t> v = ctx.attrInts(name);
    if (v.empty()) v.assign(k, fallback);
    if (v.size() != k) return ctx.fail(std::string(name) + " must have " + std::to_string(k) + " values");
    return v;
  };
  NNC_ASSIGN_OR_RETURN(g.strides, fill("strides", 1));
  NNC_ASSIGN_OR_RETURN(g.dilations, fill("dilations", 1));
  std::vector<int64_t> pads = ctx.attrInts("pads");
  if (pads.empty()) pads.assign(2 * k, 0);
  if (pads.size() != 2 * k) return ctx.fail("pads must have " + std::to_string(2 * k) + " values");
  const std::string auto_pad = ctx.attrString("auto_pad", "NOTSET");
  g.pad_begin.assign(k, 0);
  g.pad_end.assign(k, 0);
  g.out.assign(k, 0);
  for (size_t i = 0; i < k; ++i) {
    if (in_spatial[i] <= 0) return ctx.fail("input has an empty spatial dim (" + shapeToString(in_spatial) + ")");
    if (kernel[i] <= 0 || g.strides[i] <= 0 || g.dilations[i] <= 0)
      return ctx.fail("kernel, strides and dilations must be positive");
    const int64_t span = (kernel[i] - 1) * g.dilations[i] + 1;
    const int64_t s = g.strides[i];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[i] = (in_spatial[i] + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (g.out[i] - 1) * s + span - in_spatial[i]);
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
      continue;
    }
    if (auto_pad == "VALID") {
      pads[i] = pads[i + k] = 0;
    } else if (auto_pad != "NOTSET") {
      return ctx.fail("unknown auto_pad '" + auto_pad + "'");
    }
    g.pad_begin[i] = pads[i];
    g.pad_end[i] = pads[i + k];
    if (pads[i] < 0 || pads[i + k] < 0) return ctx.unsupportedHere("negative pads are not supported");
    const int64_t padded = in_spatial[i] + pads[i] + pads[i + k];
    if (padded < span)
      return ctx.fail("kernel span " + std::to_string(span) + " is larger than the padded input " + std::to_string(padded) +
                      " on spatial axis " + std::to_string(i));
    if (ceil_mode) {
      g.out[i] = (padded - span + s - 1) / s + 1;
      // The last window must start inside the input or the begin padding (ONNX Runtime, PyTorch).
      if ((g.out[i] - 1) * s >= in_spatial[i] + pads[i]) --g.out[i];
    } else {
      g.out[i] = (padded - span) / s + 1;
    }
  }
  return g;
}

void registerNnOps(OpRegistry& registry) {
  registerConvOps(registry);
  registerConvTransposeOps(registry);
  registerPoolOps(registry);
  registerNormalizationOps(registry);
  registerResizeOps(registry);
}

}  // namespace nnc::ops

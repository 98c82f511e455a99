// Empirical bias correction (Nagel et al. 2019, section 4.2): quantizing weights and activations
// shifts the mean of a layer's output (a per-tensor weight scale rounds a depthwise channel's few
// weights in one direction, say), and the shift adds up layer after layer. For every quantized
// Conv/Gemm of a QDQ model, E[y_float - y_quant] per output channel is measured on calibration
// data (y: the node's output before its activation, in the float model and in the QDQ model
// with Q/DQ arithmetic) and added to the node's bias (int32 behind DequantizeLinear: in steps of
// its scale s_x*s_w; a float bias: exactly).
//
// Layers are corrected in dependency order: each is measured with every layer above it already
// corrected. Layers with no path between them are measured in the same pass, so the cost is one
// float pass and one quantized pass per level of the layer graph (mobilenet_small: 12 levels).
#pragma once

#include <nlohmann/json.hpp>

#include "nncompress/data/dataset.h"
#include "nncompress/ir/graph.h"

namespace nnc {

struct BiasCorrectionOptions {
  int64_t samples = 0;  // calibration samples used (0: all)
  int64_t batch_size = 32;
  int threads = 0;
};

// Corrects the biases of `quantized` (the QDQ form of `float_model`, node outputs under the same
// names). A quantized Conv/Gemm without a bias gets an int32 one. Returns statistics: layers corrected,
// levels (quantized passes), the mean |correction| over all channels.
Expected<nlohmann::ordered_json> correctBiases(const Model& float_model, Model& quantized, const Dataset& data,
                                               const BiasCorrectionOptions& options);

}  // namespace nnc

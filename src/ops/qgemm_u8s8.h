// The int8 GEMM of the fused QDQ kernels (runtime/qdq_fusion.h) on AVX2 without VNNI: uint8
// activations times int8 weights with vpmaddubsw (u8 x s8 pairs summed into int16) and vpmaddwd
// by ones (int16 pairs into int32), as ONNX Runtime's MLAS does on this kind of CPU. The int16
// pair sums cannot saturate when every weight lies in [-64, 64] (2 * 255 * 64 < 32767): that is
// what `nncompress quantize` writes by default (7-bit weights, --reduce-range), and packing refuses
// any other weights, so the result is exact; the caller then uses the general qgemm.h path.
//
// Weights are packed once per Session (qdq_fusion.cpp stores the packed bytes on the fused node):
//   - kPanel (MatMul, Gemm: y[m, n] = sum_k x[m, k] w[k, n]): channels (n) in panels of kNr,
//     [panel][k quad][kNr channels][4 bytes];
//   - kBroadcast (Conv: y[c, p] = sum_k w[c, k] col[k, p]): channels in tiles of kMr,
//     [group][tile][k quad][kMr channels][4 bytes], each group's channels padded to whole tiles.
// with each channel's weight sum, so the activation zero point is applied once per output:
// sum_k (x - zx) w = sum_k x w - zx * sum_k w. Signed (int8) activations are shifted to uint8
// (+128, zero point too), which leaves the differences unchanged.
#pragma once

#include <cstdint>
#include <optional>

#include "nncompress/ir/tensor.h"

namespace nnc::ops {

inline constexpr int64_t kU8S8Mr = 4;   // rows per tile (activation rows, or Conv channels)
inline constexpr int64_t kU8S8Nr = 16;  // columns per panel (MatMul channels, or Conv positions)

enum class WeightRole : int64_t { kPanel = 1, kBroadcast = 2 };

// A packed weight tensor as the kernels read it.
struct PackedWeights {
  WeightRole role = WeightRole::kPanel;
  int64_t channels = 0, K = 0, kquads = 0, groups = 1;
  const int32_t* sums = nullptr;  // per channel: sum_k w[c, k]
  const int8_t* data = nullptr;
  // kBroadcast: channels per group and tiles per group.
  int64_t groupChannels() const { return channels / groups; }
  int64_t groupTiles() const { return (groupChannels() + kU8S8Mr - 1) / kU8S8Mr; }
};

// Whether this CPU runs the u8 x s8 kernels (AVX2).
bool u8s8Supported();

// Packs int8 weights w(c, k) = w[c * c_stride + k * k_stride] for `channels` channels of K values
// (kBroadcast: `groups` consecutive groups of channels / groups channels). Returns an empty tensor
// (dtype kUndefined) when a weight lies outside [-64, 64] or the CPU lacks AVX2.
Tensor packU8S8Weights(const int8_t* w, int64_t channels, int64_t K, int64_t c_stride, int64_t k_stride,
                       WeightRole role, int64_t groups = 1);
// The view of a tensor made by packU8S8Weights (nullopt for anything else).
std::optional<PackedWeights> viewPackedWeights(const Tensor& packed);

// What happens to each int32 sum: v = float(acc + offset[c]) * scale[c] for channel c, then
// either quantized (out_type uint8/int8: clamp to [lo, hi], round half to even, + zp, as
// requantizeOne in qgemm.h) or written as float (+ fbias(m, n) when fbias is set).
struct U8S8Output {
  const int32_t* offset = nullptr;  // per channel (bias - zx * weight sum)
  const float* scale = nullptr;     // per channel
  DType out_type = DType::kUInt8;   // kUInt8, kInt8 or kFloat
  int32_t zp = 0;
  float lo = 0, hi = 0;             // clamp bounds relative to zp (quantized outputs)
  const float* fbias = nullptr;     // float outputs: added bias, element (m, n) at
  int64_t fbias_rs = 0, fbias_cs = 0;  // fbias[m * fbias_rs + n * fbias_cs]
  void* out = nullptr;              // row-major [rows, columns], row stride ldo elements
  int64_t ldo = 0;
};

// y[m, n] for M activation rows x[m, :] (row stride lda, int8 when x_signed) and kPanel weights;
// channel = n. `zx` is the activation zero point (already in `offset`). Runs on `threads`.
void u8s8GemmRows(const uint8_t* x, int64_t M, int64_t lda, bool x_signed, const PackedWeights& w,
                  const U8S8Output& out, int threads);

// Conv as GEMM for one image: y[c, p] = sum_k w[c, k] col[k, p] over the channels of group g,
// where col is the [K, N] im2col matrix (uint8, after the +128 shift for int8 activations);
// channel = c. `out.out` points at the group's first channel row. Runs on `threads`.
void u8s8GemmBroadcast(const PackedWeights& w, int64_t group, const uint8_t* col, int64_t N, const U8S8Output& out,
                       int threads);
// The same with row k of the [K, N] matrix at rows[k]: a stride-1 Conv reads its zero-point-padded
// image in place this way (qdq_kernels.cpp).
void u8s8GemmBroadcastRows(const PackedWeights& w, int64_t group, const uint8_t* const* rows, int64_t N,
                           const U8S8Output& out, int threads);

}  // namespace nnc::ops

// Helpers shared by the quantization kernels: integer type ranges, reading
// scales and zero points (any integer dtype, 4-bit packed ones too), the
// rounding rule, and the integer MatMul / Conv drivers (integer_ops.cpp) that
// the QLinear* kernels requantize.
#pragma once

#include <cmath>
#include <vector>

#include "op_util.h"

namespace nnc::ops {

// [lo, hi] of an integer quantized type (int4/uint4/int8/uint8/int16/uint16);
// false otherwise.
bool quantRange(DType type, int32_t* lo, int32_t* hi);

// Element i of an integer tensor (any int dtype up to 32 bits, 4-bit packed low
// nibble first).
int32_t intElement(const Tensor& t, int64_t i);
// All elements of an integer tensor as int32 (for zero points: small tensors).
std::vector<int32_t> intElements(const Tensor& t);
// All elements of a float tensor (float, double; half types are upcast by the
// session) or of an int32 tensor, as float.
Expected<std::vector<float>> floatElements(const Tensor& t, const std::string& what);

// Packs int32 values (already in range) into a 4-bit tensor, two per byte, low
// nibble first.
Tensor packInt4(DType type, const std::vector<int64_t>& shape, const int8_t* values, int64_t n);

// round(x / scale) + zp saturated to [zp + lo, zp + hi] (lo, hi relative to
// zp), as MLAS's MlasQuantizeLinear: divide, clamp in float (NaN -> low end),
// round half to even, add zp.
inline int32_t quantizeOne(float x, float scale, int32_t zp, float lo, float hi) {
  float v = x / scale;
  v = v > lo ? v : lo;
  v = v < hi ? v : hi;
  return static_cast<int32_t>(std::nearbyint(v)) + zp;
}

// numpy-style MatMul of two 8-bit integer tensors into int32: A [..., M, K] x B
// [..., K, N] with a zero point per tensor or per row of A (M values) and per
// tensor or per column of B (N values).
Expected<Tensor> integerMatMul(const KernelContext& ctx, const Tensor& a, const Tensor& b,
                               const std::vector<int32_t>& a_zp, const std::vector<int32_t>& b_zp);

// Conv geometry in 3-D form (1-D and 2-D convs get leading 1s), for the integer Conv drivers.
struct ConvShape {
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pad[3] = {0, 0, 0};
  int64_t outSize() const { return out[0] * out[1] * out[2]; }
  int64_t kSize() const { return k[0] * k[1] * k[2]; }
  bool pointwise() const {
    for (int d = 0; d < 3; ++d)
      if (k[d] != 1 || stride[d] != 1 || pad[d] != 0) return false;
    return true;
  }
};

// The Conv geometry of x [N, C, spatial...] and w [M, C/group, kernel...] from the node's
// attributes (auto_pad included); the output's spatial dims are appended to out_spatial.
Expected<ConvShape> integerConvShape(const KernelContext& ctx, const Tensor& x, const Tensor& w,
                                     std::vector<int64_t>* out_spatial);

// col[(c, kz, ky, kx)][(oz, oy, ox)] of `channels` channels of one 8-bit image; `fill` (the zero
// point's byte) where the window is outside the image.
void im2colBytes(const uint8_t* x, int64_t channels, const ConvShape& s, uint8_t fill, uint8_t* col, int threads);

// Convolution of 8-bit x [N, C, spatial...] by w [M, C/group, kernel...] into
// int32 [N, M, out spatial...] (Conv attributes read from the node); x padded
// with its zero point. w_zp: one value or one per output channel.
Expected<Tensor> integerConv(const KernelContext& ctx, const Tensor& x, const Tensor& w, int32_t x_zp,
                             const std::vector<int32_t>& w_zp);

}  // namespace nnc::ops

// The fused QDQ kernels on weights packed once per Session (qgemm_u8s8.h; the session's fusion,
// runtime/qdq_fusion.cpp, packs them into the fused node's "packed_w" attribute):
//   QdqConv           int8 Conv, requantized in the GEMM's output step;
//   QdqMatMul/QdqGemm x [.., K] times a constant 2-D weight, requantized, or (without y_scale)
//                     scaled back to float: y = alpha * x_s * w_s[n] * acc (+ beta * C).
// Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, bias (int32,
// scale x_scale * w_scale, added to the accumulator), C (float, Gemm with a float output only).
// Requantization is ONNX Runtime's: multiplier = (x_scale * w_scale[c]) / y_scale in float, round
// half to even, saturate; the weight zero point is 0 (packing is only done then).
#include <algorithm>
#include <cstring>

#include "parallel.h"
#include "qgemm.h"
#include "qdq_ops.h"
#include "qgemm_u8s8.h"
#include "quant_util.h"

namespace nnc::ops {
namespace {

Expected<float> scalarFloat(const KernelContext& ctx, size_t i, const char* what) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr || t->elementCount() != 1) return ctx.fail(std::string(what) + " must be a scalar");
  auto v = floatElements(*t, what);
  if (!v) return v.status();
  return (*v)[0];
}

// The per-channel output step: offset = bias - zx * weight sum, scale = x_s * w_s[c] * alpha (/ y_s).
struct OutputStep {
  std::vector<int32_t> offset;
  std::vector<float> scale;
  U8S8Output out;
};

Expected<OutputStep> outputStep(const KernelContext& ctx, const Tensor& x, const PackedWeights& w, float alpha) {
  const int64_t channels = w.channels;
  NNC_ASSIGN_OR_RETURN(float x_s, scalarFloat(ctx, 1, "x_scale"));
  int32_t zx = 0;
  if (const Tensor* z = ctx.input(2)) {
    if (z->elementCount() != 1 || z->dtype != x.dtype) return ctx.fail("x_zero_point must be a scalar of x's type");
    zx = intElement(*z, 0);
  }
  if (x.dtype == DType::kInt8) zx += 128;  // the kernels read int8 activations shifted to uint8
  const Tensor* ws_t = ctx.input(4);
  if (ws_t == nullptr) return ctx.fail("w_scale is missing");
  NNC_ASSIGN_OR_RETURN(std::vector<float> w_s, floatElements(*ws_t, "w_scale"));
  if (w_s.size() != 1 && static_cast<int64_t>(w_s.size()) != channels)
    return ctx.fail("w_scale must have 1 or " + std::to_string(channels) + " elements");
  const Tensor* bias = ctx.input(8);
  if (bias && (bias->dtype != DType::kInt32 || bias->elementCount() != channels))
    return ctx.fail("bias must be an int32 tensor of " + std::to_string(channels) + " elements");
  OutputStep s;
  s.offset.resize(static_cast<size_t>(channels));
  s.scale.resize(static_cast<size_t>(channels));
  const bool quantized = ctx.input(6) != nullptr;
  float y_s = 1;
  if (quantized) {
    NNC_ASSIGN_OR_RETURN(y_s, scalarFloat(ctx, 6, "y_scale"));
    const Tensor* y_zp = ctx.input(7);
    s.out.out_type = y_zp ? y_zp->dtype : DType::kUInt8;
    int32_t lo = 0, hi = 0;
    if (s.out.out_type != DType::kUInt8 && s.out.out_type != DType::kInt8)
      return ctx.unsupportedHere("output type " + dtypeName(s.out.out_type));
    quantRange(s.out.out_type, &lo, &hi);
    s.out.zp = y_zp ? intElement(*y_zp, 0) : 0;
    if (ctx.attrInt("relu", 0) != 0) lo = std::max(lo, s.out.zp);
    s.out.lo = static_cast<float>(lo - s.out.zp);
    s.out.hi = static_cast<float>(hi - s.out.zp);
  } else {
    s.out.out_type = DType::kFloat;
  }
  for (int64_t c = 0; c < channels; ++c) {
    const size_t i = static_cast<size_t>(c);
    s.offset[i] = static_cast<int32_t>(static_cast<uint32_t>(bias ? bias->dataAs<int32_t>()[c] : 0) -
                                       static_cast<uint32_t>(zx) * static_cast<uint32_t>(w.sums[c]));
    const float m = x_s * w_s[w_s.size() == 1 ? 0 : i];
    // Same expression as the QLinear kernels: (x_s * w_s) / y_s; alpha only for Gemm.
    s.scale[i] = quantized ? (alpha == 1.0f ? m : m * alpha) / y_s : (alpha == 1.0f ? m : m * alpha);
  }
  s.out.offset = s.offset.data();
  s.out.scale = s.scale.data();
  return s;
}

Tensor allocateOutput(DType type, const std::vector<int64_t>& shape, void** data) {
  uint8_t* bytes = nullptr;
  Tensor t = Tensor::uninitialized(type, shape, &bytes);
  *data = bytes;
  return t;
}

// Depthwise Conv (one input and one output channel per group): a GEMM of one row would waste the
// 4 x 16 tile, so each plane is padded with the zero point (padded taps then add (zx - zx) * w = 0)
// and every tap adds w * x to int32 sums. With stride 1 the sums are kept at the padded width, so
// each tap is one contiguous multiply-add over the whole plane (the compiler vectorizes it) and the
// extra columns are dropped when requantizing.
template <typename Q>
void depthwisePlanes(const Tensor& x, const int8_t* w, const ConvShape& s, const OutputStep& step, int32_t zx_shifted,
                     Q* y, int threads) {
  const int64_t planes = x.shape[0] * x.shape[1], C = x.shape[1];
  const int64_t H = s.in[1], W = s.in[2], OH = s.out[1], OW = s.out[2], KH = s.k[1], KW = s.k[2];
  const int64_t Hp = std::max(H + s.pad[1], (OH - 1) * s.stride[1] + (KH - 1) * s.dil[1] + 1) + 1;
  const int64_t Wp = std::max(W + s.pad[2], (OW - 1) * s.stride[2] + (KW - 1) * s.dil[2] + 1);
  const uint8_t flip = x.dtype == DType::kInt8 ? 0x80 : 0, fill = static_cast<uint8_t>(zx_shifted);
  const bool unit_stride = s.stride[1] == 1 && s.stride[2] == 1;
#pragma omp parallel num_threads(threads) if (threads > 1 && planes > 1)
  {
    std::vector<uint8_t> padded(static_cast<size_t>(Hp * Wp));
    std::vector<int32_t> acc(static_cast<size_t>(unit_stride ? OH * Wp : OW));
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      const int64_t c = p % C;
      std::fill(padded.begin(), padded.end(), fill);
      const uint8_t* src = x.bytes() + p * H * W;
      for (int64_t i = 0; i < H; ++i) {
        uint8_t* d = padded.data() + (i + s.pad[1]) * Wp + s.pad[2];
        for (int64_t j = 0; j < W; ++j) d[j] = src[i * W + j] ^ flip;
      }
      const int8_t* wc = w + c * KH * KW;
      Q* yp = y + p * OH * OW;
      const int32_t offset = step.offset[c];
      if (unit_stride) {
        // acc[oy * Wp + ox] for ox < Wp; columns ox >= OW read past the row and are never used
        // (the extra padded row keeps the last reads inside the buffer).
        const int64_t n = OH * Wp;
        int32_t* a = acc.data();
        for (int64_t i = 0; i < n; ++i) a[i] = offset;
        for (int64_t ky = 0; ky < KH; ++ky)
          for (int64_t kx = 0; kx < KW; ++kx) {
            const int32_t wv = wc[ky * KW + kx];
            const uint8_t* in = padded.data() + ky * s.dil[1] * Wp + kx * s.dil[2];
            for (int64_t i = 0; i < n; ++i) a[i] += wv * static_cast<int32_t>(in[i]);
          }
        for (int64_t oy = 0; oy < OH; ++oy)
          for (int64_t ox = 0; ox < OW; ++ox)
            yp[oy * OW + ox] = requantizeOne<Q>(a[oy * Wp + ox], step.scale[c], step.out.zp, step.out.lo, step.out.hi);
        continue;
      }
      for (int64_t oy = 0; oy < OH; ++oy) {
        std::fill(acc.begin(), acc.end(), offset);
        for (int64_t ky = 0; ky < KH; ++ky)
          for (int64_t kx = 0; kx < KW; ++kx) {
            const int32_t wv = wc[ky * KW + kx];
            const uint8_t* row = padded.data() + (oy * s.stride[1] + ky * s.dil[1]) * Wp + kx * s.dil[2];
            for (int64_t ox = 0; ox < OW; ++ox) acc[ox] += wv * row[ox * s.stride[2]];
          }
        for (int64_t ox = 0; ox < OW; ++ox)
          yp[oy * OW + ox] = requantizeOne<Q>(acc[ox], step.scale[c], step.out.zp, step.out.lo, step.out.hi);
      }
    }
  }
}

}  // namespace

Status qdqConvPacked(KernelContext& ctx, const PackedWeights& w) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* wt, ctx.requiredInput(3));
  if (x->dtype != DType::kUInt8 && x->dtype != DType::kInt8) return ctx.fail("x must be uint8 or int8");
  if (x->shape.size() < 3 || x->shape.size() > 5 || wt->shape.size() != x->shape.size())
    return ctx.fail("x and w must have the same rank, 3 to 5");
  const int64_t group = ctx.attrInt("group", 1);
  const int64_t batch = x->shape[0], C = x->shape[1], M = wt->shape[0];
  if (group != w.groups || M != w.channels || C % group != 0 || wt->shape[1] * group != C)
    return ctx.fail("channels " + std::to_string(C) + " / weights " + shapeToString(wt->shape) +
                    " do not fit group " + std::to_string(group));
  if (ctx.input(6) == nullptr) return ctx.fail("y_scale is missing");
  std::vector<int64_t> out_spatial;
  auto geometry = integerConvShape(ctx, *x, *wt, &out_spatial);
  if (!geometry) return geometry.status().withContext(ctx.node().describe());
  const ConvShape& s = *geometry;
  const int64_t Cg = C / group, Mg = M / group, Kg = Cg * s.kSize(), Nsp = s.outSize();
  if (Kg != w.K) return ctx.fail("weight shape does not match its packed form");
  NNC_ASSIGN_OR_RETURN(OutputStep step, outputStep(ctx, *x, w, 1.0f));
  std::vector<int64_t> out_shape{batch, M};
  out_shape.insert(out_shape.end(), out_spatial.begin(), out_spatial.end());
  void* y = nullptr;
  Tensor out = allocateOutput(step.out.out_type, out_shape, &y);
  if (group == C && M == C && x->shape.size() == 4 && wt->dtype == DType::kInt8) {
    const int32_t zx = (ctx.input(2) ? intElement(*ctx.input(2), 0) : 0) + (x->dtype == DType::kInt8 ? 128 : 0);
    const int threads = batch * C * Nsp * s.kSize() > kMinParallelWork ? ctx.threads() : 1;
    if (step.out.out_type == DType::kUInt8)
      depthwisePlanes(*x, wt->dataAs<int8_t>(), s, step, zx, static_cast<uint8_t*>(y), threads);
    else
      depthwisePlanes(*x, wt->dataAs<int8_t>(), s, step, zx, static_cast<int8_t*>(y), threads);
    ctx.setOutput(0, std::move(out));
    return Status::ok();
  }
  const int64_t in_plane = product(x->shape, 2), jobs = batch * group;
  // Stride 1 (2-D): no im2col. Each channel is copied once into a plane padded with the zero point,
  // Wp = OW + (KW - 1) * dilation wide; output position n = oy * Wp + ox then reads tap (ky, kx) at
  // n + ky * d * Wp + kx * d, so row k of the GEMM's B is the padded plane shifted by a constant.
  // The GEMM computes Wp - OW extra columns per output row (reading past a plane's end, into the
  // next plane or the slack, for those only); they are dropped when copying out.
  const bool shifted = !s.pointwise() && x->shape.size() == 4 && s.stride[1] == 1 && s.stride[2] == 1;
  const int64_t Wp = s.out[2] + (s.k[2] - 1) * s.dil[2], Hp = s.out[1] + (s.k[1] - 1) * s.dil[1];
  const int64_t Np = s.out[1] * Wp, slack = (s.k[2] - 1) * s.dil[2] + 64;
  const bool pointwise = s.pointwise() && x->dtype == DType::kUInt8;  // the image is the GEMM's B as it is
  const uint8_t flip = x->dtype == DType::kInt8 ? 0x80 : 0;
  // Several images: one job (image, group) per thread, each GEMM on one thread; one job: a threaded GEMM.
  const int threads = jobs > 1 && Mg * Kg * Nsp * jobs > 4 * kMinParallelWork ? ctx.threads() : 1;
  const bool per_job = jobs > 1 && threads > 1;
  Status failure;
#pragma omp parallel num_threads(threads) if (per_job)
  {
    std::vector<uint8_t> col(pointwise || shifted ? 0 : static_cast<size_t>(Kg * Nsp));
    std::vector<uint8_t> planes(shifted ? static_cast<size_t>(Cg * Hp * Wp + slack) : 0);
    std::vector<uint8_t> wide(shifted ? static_cast<size_t>(Mg * Np * (dtypeBits(step.out.out_type) / 8)) : 0);
    std::vector<const uint8_t*> rows(shifted ? static_cast<size_t>(Kg) : 0);
#pragma omp for schedule(dynamic)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t n = job / group, g = job % group;
      const uint8_t* xs = x->bytes() + (n * C + g * Cg) * in_plane;
      const uint8_t* b = xs;
      const uint8_t fill_byte = static_cast<uint8_t>((ctx.input(2) ? intElement(*ctx.input(2), 0) : 0) ^ flip);
      if (shifted) {
        std::fill(planes.begin(), planes.end(), fill_byte);
        const int64_t H = s.in[1], W = s.in[2];
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t i = 0; i < H; ++i) {
            uint8_t* d = planes.data() + c * Hp * Wp + (i + s.pad[1]) * Wp + s.pad[2];
            const uint8_t* src = xs + c * in_plane + i * W;
            for (int64_t j = 0; j < W; ++j) d[j] = src[j] ^ flip;
          }
        const int64_t ks = s.kSize();
        for (int64_t k = 0; k < Kg; ++k) {
          const int64_t c = k / ks, ky = (k % ks) / s.k[2], kx = k % s.k[2];
          rows[static_cast<size_t>(k)] = planes.data() + c * Hp * Wp + ky * s.dil[1] * Wp + kx * s.dil[2];
        }
        U8S8Output o = step.out;
        o.offset += g * Mg;
        o.scale += g * Mg;
        o.ldo = Np;
        o.out = wide.data();
        u8s8GemmBroadcastRows(w, g, rows.data(), Np, o, per_job ? 1 : ctx.threads());
        const int64_t bytes = dtypeBits(o.out_type) / 8;
        uint8_t* dst = static_cast<uint8_t*>(y) + (n * M + g * Mg) * Nsp * bytes;
        for (int64_t m = 0; m < Mg; ++m)
          for (int64_t oy = 0; oy < s.out[1]; ++oy)
            std::memcpy(dst + (m * Nsp + oy * s.out[2]) * bytes, wide.data() + (m * Np + oy * Wp) * bytes,
                        static_cast<size_t>(s.out[2] * bytes));
        continue;
      }
      if (!pointwise) {
        // Signed activations: im2col of the bytes, then the +128 shift in place (padding included).
        const uint8_t fill = static_cast<uint8_t>(ctx.input(2) ? intElement(*ctx.input(2), 0) : 0);
        im2colBytes(xs, Cg, s, fill, col.data(), per_job ? 1 : ctx.threads());
        if (flip)
          for (uint8_t& v : col) v ^= flip;
        b = col.data();
      }
      U8S8Output o = step.out;
      o.offset += g * Mg;
      o.scale += g * Mg;
      o.ldo = Nsp;
      o.out = static_cast<uint8_t*>(y) + (n * M + g * Mg) * Nsp * (dtypeBits(o.out_type) / 8);
      u8s8GemmBroadcast(w, g, b, Nsp, o, per_job ? 1 : ctx.threads());
    }
  }
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

Status qdqRowsPacked(KernelContext& ctx, const PackedWeights& w, bool gemm) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (x->dtype != DType::kUInt8 && x->dtype != DType::kInt8) return ctx.fail("x must be uint8 or int8");
  if (x->shape.empty() || x->shape.back() != w.K)
    return ctx.fail("x " + shapeToString(x->shape) + " does not match the weight's K=" + std::to_string(w.K));
  if (gemm && x->shape.size() != 2) return ctx.fail("Gemm input must be 2-D");
  const float alpha = gemm ? ctx.attrFloat("alpha", 1.0f) : 1.0f;
  NNC_ASSIGN_OR_RETURN(OutputStep step, outputStep(ctx, *x, w, alpha));
  const int64_t N = w.channels, M = x->elementCount() / w.K;
  std::vector<int64_t> out_shape(x->shape.begin(), x->shape.end() - 1);
  out_shape.push_back(N);
  std::vector<float> fbias;
  if (const Tensor* c = ctx.input(9)) {
    // Gemm's float C, times beta, broadcast to [M, N]: a scalar, [N], [1, N], [M, 1] or [M, N].
    if (step.out.out_type != DType::kFloat) return ctx.fail("a float C needs a float output");
    NNC_ASSIGN_OR_RETURN(fbias, floatElements(*c, "C"));
    const float beta = ctx.attrFloat("beta", 1.0f);
    for (float& v : fbias) v *= beta;
    const std::vector<int64_t>& cs = c->shape;
    const int64_t rows = cs.size() == 2 ? cs[0] : 1, cols = cs.empty() ? 1 : cs.back();
    if (cs.size() > 2 || (rows != 1 && rows != M) || (cols != 1 && cols != N))
      return ctx.fail("C " + shapeToString(cs) + " does not broadcast to [" + std::to_string(M) + ", " +
                      std::to_string(N) + "]");
    step.out.fbias = fbias.data();
    step.out.fbias_rs = rows == 1 ? 0 : cols;
    step.out.fbias_cs = cols == 1 ? 0 : 1;
  }
  void* y = nullptr;
  Tensor out = allocateOutput(step.out.out_type, out_shape, &y);
  step.out.out = y;
  step.out.ldo = N;
  if (M > 0) u8s8GemmRows(x->bytes(), M, w.K, x->dtype == DType::kInt8, w, step.out, ctx.threads());
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

}  // namespace nnc::ops

// QLinearMatMul and QLinearConv (opset 10; 8-bit types): the integer GEMM into
// int32, plus the int32 bias (QLinearConv), then requantization exactly as ONNX
// Runtime: multiplier = (x_scale * w_scale[c]) / y_scale in float, y =
// saturate(round_half_even(acc * multiplier) + y_zp). Weight scales / zero
// points may be per output channel (per column of B for MatMul).
// Also the session's fused QDQ groups (runtime/qdq_fusion.h): DequantizeLinear -> Conv/MatMul
// (-> Relu) -> QuantizeLinear run as these kernels, Relu folded into the output clamp.
#include "qdq_ops.h"
#include "qgemm.h"
#include "qgemm_u8s8.h"
#include "quant_util.h"
#include "parallel.h"

namespace nnc::ops {
namespace {

// A scalar scale (one element) as float.
Expected<float> scalarScale(const Tensor* t, const std::string& what) {
  if (!t) return invalidModel(what + " is missing");
  if (t->elementCount() != 1) return unsupported(what + " must be a scalar");
  auto v = floatElements(*t, what);
  if (!v) return v.status();
  return (*v)[0];
}

Expected<int32_t> scalarZeroPoint(const Tensor* t, DType data_type, const std::string& what) {
  if (!t) return 0;
  if (t->dtype != data_type) return invalidModel(what + " type " + dtypeName(t->dtype) + " differs from its input's");
  if (t->elementCount() != 1) return unsupported(what + " must be a scalar");
  return intElement(*t, 0);
}

// Requantizes acc (+ bias[channel]) into the output type; channel = (i / inner)
// % channels. relu: values below the zero point (negative reals) clamp to it, which is what
// Relu then QuantizeLinear give (round(0) + zp = zp, and rounding is monotonic).
Status requantize(KernelContext& ctx, const Tensor& acc, const std::vector<float>& multiplier, const int32_t* bias,
                  int64_t inner, DType out_type, int32_t y_zp, bool relu) {
  int32_t lo = 0, hi = 0;
  if (out_type != DType::kUInt8 && out_type != DType::kInt8)
    return ctx.unsupportedHere("output type " + dtypeName(out_type));
  quantRange(out_type, &lo, &hi);
  if (relu) lo = std::max(lo, y_zp);
  const float flo = static_cast<float>(lo - y_zp), fhi = static_cast<float>(hi - y_zp);
  const int64_t channels = static_cast<int64_t>(multiplier.size());
  const int64_t n = acc.elementCount();
  const int32_t* a = acc.dataAs<int32_t>();
  auto run = [&](auto* y) {
    using Q = std::remove_pointer_t<decltype(y)>;
    const int64_t rows = inner > 0 ? n / inner : 0;
#pragma omp parallel for if (n > kMinParallelWork)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t c = channels == 1 ? 0 : r % channels;
      const float m = multiplier[static_cast<size_t>(c)];
      const int32_t b = bias ? bias[c] : 0;
      for (int64_t i = r * inner; i < (r + 1) * inner; ++i) y[i] = requantizeOne<Q>(a[i] + b, m, y_zp, flo, fhi);
    }
  };
  if (out_type == DType::kUInt8) {
    uint8_t* y = nullptr;
    Tensor out = allocate<uint8_t>(out_type, acc.shape, &y);
    run(y);
    ctx.setOutput(0, std::move(out));
  } else {
    int8_t* y = nullptr;
    Tensor out = allocate<int8_t>(out_type, acc.shape, &y);
    run(y);
    ctx.setOutput(0, std::move(out));
  }
  return Status::ok();
}

// Weight scales and zero points: one value or one per output channel.
struct WeightParams {
  std::vector<float> scale;
  std::vector<int32_t> zp;
};
Expected<WeightParams> weightParams(const Tensor* scale, const Tensor* zp, const Tensor& w, int64_t channels) {
  WeightParams p;
  if (!scale) return invalidModel("weight scale is missing");
  auto s = floatElements(*scale, "weight scale");
  if (!s) return s.status();
  p.scale = std::move(s).value();
  if (p.scale.size() != 1 && static_cast<int64_t>(p.scale.size()) != channels)
    return invalidModel("weight scale must have 1 or " + std::to_string(channels) + " elements");
  if (zp) {
    if (zp->dtype != w.dtype) return invalidModel("weight zero point type differs from the weight's");
    p.zp = intElements(*zp);
    if (p.zp.size() != 1 && static_cast<int64_t>(p.zp.size()) != channels)
      return invalidModel("weight zero point must have 1 or " + std::to_string(channels) + " elements");
  } else {
    p.zp = {0};
  }
  return p;
}

Status qlinearMatMulImpl(KernelContext& ctx, bool relu) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b, ctx.requiredInput(3));
  const Tensor* y_zp_t = ctx.input(7);
  const DType out_type = y_zp_t ? y_zp_t->dtype : DType::kUInt8;
  auto a_scale = scalarScale(ctx.input(1), "a_scale");
  auto a_zp = scalarZeroPoint(ctx.input(2), a->dtype, "a_zero_point");
  auto y_scale = scalarScale(ctx.input(6), "y_scale");
  auto y_zp = scalarZeroPoint(y_zp_t, out_type, "y_zero_point");
  for (const Status* s : {&a_scale.status(), &a_zp.status(), &y_scale.status(), &y_zp.status()})
    if (!s->isOk()) return s->withContext(ctx.node().describe());
  if (b->shape.empty()) return ctx.fail("b must not be a scalar");
  const int64_t N = b->shape.size() == 1 ? 1 : b->shape.back();
  auto wp = weightParams(ctx.input(4), ctx.input(5), *b, N);
  if (!wp) return wp.status().withContext(ctx.node().describe());
  auto acc = integerMatMul(ctx, *a, *b, {*a_zp}, wp->zp);
  if (!acc) return acc.status().withContext(ctx.node().describe());
  std::vector<float> multiplier(wp->scale.size());
  for (size_t i = 0; i < multiplier.size(); ++i) multiplier[i] = *a_scale * wp->scale[i] / *y_scale;
  // inner = 1: element i belongs to column i % N (per-column multipliers) or to
  // the one scale.
  return requantize(ctx, *acc, multiplier, nullptr, 1, out_type, *y_zp, relu);
}

Status qlinearConvImpl(KernelContext& ctx, bool relu) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* w, ctx.requiredInput(3));
  const Tensor* y_zp_t = ctx.input(7);
  const DType out_type = y_zp_t ? y_zp_t->dtype : DType::kUInt8;
  auto x_scale = scalarScale(ctx.input(1), "x_scale");
  auto x_zp = scalarZeroPoint(ctx.input(2), x->dtype, "x_zero_point");
  auto y_scale = scalarScale(ctx.input(6), "y_scale");
  auto y_zp = scalarZeroPoint(y_zp_t, out_type, "y_zero_point");
  for (const Status* s : {&x_scale.status(), &x_zp.status(), &y_scale.status(), &y_zp.status()})
    if (!s->isOk()) return s->withContext(ctx.node().describe());
  if (w->shape.size() < 3) return ctx.fail("weight must have rank >= 3");
  const int64_t M = w->shape[0];
  auto wp = weightParams(ctx.input(4), ctx.input(5), *w, M);
  if (!wp) return wp.status().withContext(ctx.node().describe());
  const Tensor* bias_t = ctx.input(8);
  if (bias_t && (bias_t->dtype != DType::kInt32 || bias_t->elementCount() != M))
    return ctx.fail("B must be an int32 tensor of " + std::to_string(M) + " elements");
  auto acc = integerConv(ctx, *x, *w, *x_zp, wp->zp);
  if (!acc) return acc.status().withContext(ctx.node().describe());
  std::vector<float> multiplier(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m)
    multiplier[static_cast<size_t>(m)] =
        *x_scale * wp->scale[wp->scale.size() == 1 ? 0 : static_cast<size_t>(m)] / *y_scale;
  const int64_t inner = std::max<int64_t>(1, product(acc->shape, 2));
  return requantize(ctx, *acc, multiplier, bias_t ? bias_t->dataAs<int32_t>() : nullptr, inner, out_type, *y_zp,
                    relu);
}

Status qlinearMatMul(KernelContext& ctx) { return qlinearMatMulImpl(ctx, false); }
Status qlinearConv(KernelContext& ctx) { return qlinearConvImpl(ctx, false); }
// The fused QDQ groups: QLinear* inputs, plus the attribute "relu" (0/1) the session sets.
// With weights the fusion packed (qgemm_u8s8.h), the u8 x s8 kernels; otherwise the QLinear ones.
std::optional<PackedWeights> packedWeights(const KernelContext& ctx) {
  const Tensor* packed = ctx.attrTensor(kPackedWeightsAttr);
  return packed ? viewPackedWeights(*packed) : std::nullopt;
}
Status qdqMatMul(KernelContext& ctx) {
  if (auto w = packedWeights(ctx)) return qdqRowsPacked(ctx, *w, false);
  return qlinearMatMulImpl(ctx, ctx.attrInt("relu", 0) != 0);
}
Status qdqConv(KernelContext& ctx) {
  if (auto w = packedWeights(ctx)) return qdqConvPacked(ctx, *w);
  return qlinearConvImpl(ctx, ctx.attrInt("relu", 0) != 0);
}
// The fusion makes a QdqGemm only with packed weights.
Status qdqGemm(KernelContext& ctx) {
  auto w = packedWeights(ctx);
  if (!w) return ctx.fail("QdqGemm needs packed weights");
  return qdqRowsPacked(ctx, *w, true);
}

}  // namespace

void registerQLinearOps(OpRegistry& registry) {
  registry.add({"", "QLinearMatMul", 10, 1000, qlinearMatMul});
  registry.add({"", "QLinearConv", 10, 1000, qlinearConv});
  registry.add({kQdqDomain, kQdqMatMulOp, 1, 1, qdqMatMul});
  registry.add({kQdqDomain, kQdqConvOp, 1, 1, qdqConv});
  registry.add({kQdqDomain, kQdqGemmOp, 1, 1, qdqGemm});
  registry.add({kQdqDomain, kQdqBinaryOp, 1, 1, qdqBinary});
}

}  // namespace nnc::ops

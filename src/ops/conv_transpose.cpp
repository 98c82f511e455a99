// ConvTranspose (opsets 1-21): groups, strides, dilations, pads, output_padding, output_shape,
// auto_pad, bias; any number of spatial dims. float and double.
// Algorithm: per (batch, group) one GEMM col = W_g^T x X_g (Mg*K x input positions), then col2im
// scatters col into the output (initialized with the bias). float uses the packed SGEMM of
// nn_gemm.cpp on a transposed copy of W_g; double an Eigen transposed view.
#include <Eigen/Core>

#include "conv_kernels.h"
#include "parallel.h"

namespace nnc::ops {
namespace {

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Adds col ((channels*K) x inSize) into y (channels x outSize); `g` is the geometry of the
// equivalent forward conv from y to x: g.in = output dims of ConvTranspose, g.out = its input.
template <typename T>
void col2im(const T* col, int64_t channels, const WindowGeometry& g, T* y) {
  const size_t r = g.rank();
  const int64_t K = g.kernelSize();
  const int64_t P = g.outSize(), wx = g.out[r - 1], wy = g.in[r - 1], y_size = g.inSize();
  const int64_t rows = P / wx;
  NNC_PARALLEL_FOR_IF(channels * K * P > kMinParallelWork,
    for (int64_t c = 0; c < channels; ++c) {
      T* yc = y + c * y_size;
      for (int64_t kidx = 0; kidx < K; ++kidx) {
        int64_t kpos[8], rem = kidx;
        for (size_t d = r; d-- > 0;) {
          kpos[d] = rem % g.kernel[d];
          rem /= g.kernel[d];
        }
        const int64_t off = kpos[r - 1] * g.dilations[r - 1] - g.pad_begin[r - 1];
        const int64_t s = g.strides[r - 1];
        int64_t lo, hi;
        conv::validRange(off, s, wy, wx, &lo, &hi);
        const T* src = col + (c * K + kidx) * P;
        for (int64_t row = 0; row < rows; ++row, src += wx) {
          int64_t rr = row, offset = 0, stride = wy;
          bool inside = true;
          for (size_t d = r - 1; d-- > 0;) {
            const int64_t i = rr % g.out[d];
            rr /= g.out[d];
            const int64_t o = i * g.strides[d] - g.pad_begin[d] + kpos[d] * g.dilations[d];
            if (o < 0 || o >= g.in[d]) {
              inside = false;
              break;
            }
            offset += o * stride;
            stride *= g.in[d];
          }
          if (!inside) continue;
          T* dst = yc + offset + off;
          for (int64_t i = lo; i < hi; ++i) dst[i * s] += src[i];
        }
      }
    });
}

Status convTranspose(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* w, ctx.requiredInput(1));
  const Tensor* b = ctx.input(2);
  const size_t rank = x->shape.size();
  if (rank < 3 || rank > 10) return ctx.fail("input must be N x C x D1 x ... (rank 3 to 10), got " + shapeToString(x->shape));
  if (w->shape.size() != rank) return ctx.fail("weight " + shapeToString(w->shape) + " and input ranks differ");
  if (w->dtype != x->dtype || (b && b->dtype != x->dtype)) return ctx.fail("input, weight and bias types differ");
  const size_t k = rank - 2;
  const int64_t N = x->shape[0], C = x->shape[1], G = ctx.attrInt("group", 1);
  if (G <= 0 || C <= 0 || C % G != 0 || w->shape[0] != C)
    return ctx.fail("group " + std::to_string(G) + " does not match input " + shapeToString(x->shape) + " and weight " +
                    shapeToString(w->shape));
  const int64_t Mg = w->shape[1], M = Mg * G, Cg = C / G;
  if (Mg <= 0) return ctx.fail("weight has no output channels");
  if (b && (b->shape.size() != 1 || b->shape[0] != M)) return ctx.fail("bias must have shape [" + std::to_string(M) + "]");

  // Geometry of the forward conv that this op transposes: g.in = our output, g.out = our input.
  WindowGeometry g;
  g.out.assign(x->shape.begin() + 2, x->shape.end());
  g.kernel.assign(w->shape.begin() + 2, w->shape.end());
  std::vector<int64_t> kattr = ctx.attrInts("kernel_shape");
  if (!kattr.empty() && kattr != g.kernel) return ctx.fail("kernel_shape does not match the weight " + shapeToString(w->shape));
  auto fill = [&](const char* name, int64_t fallback) -> Expected<std::vector<int64_t>> {
    std::vector<int64_t> v = ctx.attrInts(name);
    if (v.empty()) v.assign(k, fallback);
    if (v.size() != k) return ctx.fail(std::string(name) + " must have " + std::to_string(k) + " values");
    return v;
  };
  NNC_ASSIGN_OR_RETURN(g.strides, fill("strides", 1));
  NNC_ASSIGN_OR_RETURN(g.dilations, fill("dilations", 1));
  NNC_ASSIGN_OR_RETURN(std::vector<int64_t> out_pad, fill("output_padding", 0));
  std::vector<int64_t> pads = ctx.attrInts("pads");
  if (pads.empty()) pads.assign(2 * k, 0);
  if (pads.size() != 2 * k) return ctx.fail("pads must have " + std::to_string(2 * k) + " values");
  std::vector<int64_t> out_shape_attr = ctx.attrInts("output_shape");
  if (out_shape_attr.size() == rank) out_shape_attr.erase(out_shape_attr.begin(), out_shape_attr.begin() + 2);
  if (!out_shape_attr.empty() && out_shape_attr.size() != k) return ctx.fail("output_shape must have " + std::to_string(k) + " values");
  const std::string auto_pad = ctx.attrString("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    return ctx.fail("unknown auto_pad '" + auto_pad + "'");
  g.in.assign(k, 0);
  g.pad_begin.assign(k, 0);
  g.pad_end.assign(k, 0);
  for (size_t i = 0; i < k; ++i) {
    if (g.out[i] <= 0 || g.kernel[i] <= 0) return ctx.fail("input and kernel spatial dims must be positive");
    if (g.strides[i] <= 0 || g.dilations[i] <= 0) return ctx.fail("strides and dilations must be positive");
    const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
    const int64_t full = g.strides[i] * (g.out[i] - 1) + out_pad[i] + span;
    const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    if (!out_shape_attr.empty() || same) {
      const int64_t target = out_shape_attr.empty() ? g.out[i] * g.strides[i] : out_shape_attr[i];
      const int64_t total = std::max<int64_t>(0, full - target);
      g.in[i] = target;
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else {
      if (auto_pad == "VALID") pads[i] = pads[i + k] = 0;
      if (pads[i] < 0 || pads[i + k] < 0) return ctx.unsupportedHere("negative pads are not supported");
      g.in[i] = full - pads[i] - pads[i + k];
      g.pad_begin[i] = pads[i];
    }
    if (g.in[i] <= 0) return ctx.fail("pads leave an empty output on spatial axis " + std::to_string(i));
  }
  std::vector<int64_t> out_shape{N, M};
  out_shape.insert(out_shape.end(), g.in.begin(), g.in.end());

  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x->dtype, out_shape, &y);
    const int64_t K = g.kernelSize(), P = g.outSize(), Y = g.inSize();
    const T* xd = x->dataAs<T>();
    const T* wd = w->dataAs<T>();
    const T* bd = b ? b->dataAs<T>() : nullptr;
    const int64_t total = N * M * Y;
    NNC_PARALLEL_FOR_IF(total > kMinParallelWork,
      for (int64_t nm = 0; nm < N * M; ++nm) std::fill(y + nm * Y, y + (nm + 1) * Y, bd ? bd[nm % M] : T(0)););
    RowMat<T> col(Mg * K, P);
    // float: the packed SGEMM on an explicitly transposed weight (small next to the product).
    RowMat<T> wt;
    if constexpr (std::is_same_v<T, float>) wt.resize(Mg * K, Cg);
    for (int64_t grp = 0; grp < G; ++grp) {
      Eigen::Map<const RowMat<T>> Wg(wd + grp * Cg * Mg * K, Cg, Mg * K);
      if constexpr (std::is_same_v<T, float>) wt = Wg.transpose();
      for (int64_t n = 0; n < N; ++n) {
        Eigen::Map<const RowMat<T>> Xg(xd + (n * C + grp * Cg) * P, Cg, P);
        if constexpr (std::is_same_v<T, float>) {
          conv::sgemmBias(Mg * K, P, Cg, wt.data(), Cg, Xg.data(), P, col.data(), P, nullptr);
        } else {
          col.noalias() = Wg.transpose() * Xg;
        }
        col2im(col.data(), Mg, g, y + (n * M + grp * Mg) * Y);
      }
    }
    ctx.setOutput(0, std::move(out));
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  return Status::ok();
}

}  // namespace

void registerConvTransposeOps(OpRegistry& registry) { registry.add({"", "ConvTranspose", 1, 1000, convTranspose}); }

}  // namespace nnc::ops

// Conv (opsets 1-21; 1-D/2-D/3-D and up, groups, dilations, strides, pads, auto_pad, bias).
// float and double (float16 is computed in float32 by the session).
// Algorithm: per (batch, group) an im2col matrix and one Eigen GEMM (W_g x col); 1x1 stride-1
// unpadded convs use the input itself as the matrix. Depthwise 2-D convs (group == C_in == C_out)
// and 1-D ones use a direct kernel vectorized along the output width. Batches of samples with few
// output positions share one GEMM. Large im2col matrices are built in tiles of output rows so
// memory stays bounded.
#include <immintrin.h>

#include <Eigen/Core>

#include "conv_kernels.h"
#include "parallel.h"

namespace nnc::ops {
namespace {

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstMap = Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using MutMap = Eigen::Map<RowMat<T>, 0, Eigen::OuterStride<>>;

constexpr int64_t kDotColumns = 4;    // output positions up to which a GEMM is done as dot products
constexpr int64_t kSmallOutput = 32;  // output positions per sample below which batches share one GEMM
constexpr int64_t kColBudget = int64_t(4) << 20;  // elements of one im2col tile (16 MB of float)

// Depthwise 2-D: one input channel per output channel. y[c] = bias[c] + sum_k w[c,k] * x[c, window].
// Each plane is first copied into a zero-padded buffer whose columns are split into `sw` phases
// (phase q holds padded columns q, q+sw, ...), so every tap of every output reads unit-stride
// memory with no bounds checks; output rows are then computed in vector chunks with all taps
// accumulated in registers.
template <typename T>
void depthwise2d(const T* x, const T* w, const T* bias, T* y, int64_t planes, int64_t channels, const WindowGeometry& g) {
  const int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  const int64_t KH = g.kernel[0], KW = g.kernel[1];
  const int64_t sh = g.strides[0], sw = g.strides[1], dh = g.dilations[0], dw = g.dilations[1];
  const int64_t pt = g.pad_begin[0], pl = g.pad_begin[1];
  const int64_t HP = (OH - 1) * sh + (KH - 1) * dh + 1;  // padded rows and columns the windows touch
  const int64_t WP = (OW - 1) * sw + (KW - 1) * dw + 1;
  const int64_t PW = (WP + sw - 1) / sw + 1;  // phase row length (+1 so no tap reads past its row)
  const int64_t taps = KH * KW;
#pragma omp parallel if (planes * OH * OW * taps > kMinParallelWork)
  {
    std::vector<T> buf(static_cast<size_t>(HP * sw * PW));
    std::vector<const T*> ptr(static_cast<size_t>(taps));
    std::vector<int64_t> tap_offset(static_cast<size_t>(taps));  // of tap (kh, kw) from its output row's base
    for (int64_t kh = 0; kh < KH; ++kh)
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t col = kw * dw;
        tap_offset[static_cast<size_t>(kh * KW + kw)] = (kh * dh * sw + col % sw) * PW + col / sw;
      }
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      const int64_t c = p % channels;
      const T* xin = x + p * H * W;
      const T* wc = w + c * taps;
      const T b = bias ? bias[c] : T(0);
      T* yp = y + p * OH * OW;
      for (int64_t r = 0; r < HP; ++r) {
        const int64_t ih = r - pt;
        for (int64_t q = 0; q < sw; ++q) {
          T* dst = buf.data() + (r * sw + q) * PW;
          if (ih < 0 || ih >= H) {
            std::fill(dst, dst + PW, T(0));
            continue;
          }
          const T* src = xin + ih * W;
          int64_t lo, hi;
          conv::validRange(q - pl, sw, W, PW, &lo, &hi);
          std::fill(dst, dst + lo, T(0));
          if (sw == 1) {
            std::memcpy(dst + lo, src + lo + q - pl, static_cast<size_t>(hi - lo) * sizeof(T));
          } else {
            for (int64_t j = lo; j < hi; ++j) dst[j] = src[j * sw + q - pl];
          }
          std::fill(dst + hi, dst + PW, T(0));
        }
      }
      for (int64_t oh = 0; oh < OH; ++oh) {
        T* __restrict yrow = yp + oh * OW;
        const T* row_base = buf.data() + oh * sh * sw * PW;
        for (int64_t t = 0; t < taps; ++t) ptr[static_cast<size_t>(t)] = row_base + tap_offset[static_cast<size_t>(t)];
        int64_t ow = 0;
#ifdef __AVX2__
        if constexpr (std::is_same_v<T, float>) {
          for (; ow + 16 <= OW; ow += 16) {
            __m256 acc0 = _mm256_set1_ps(b), acc1 = acc0;
            for (int64_t t = 0; t < taps; ++t) {
              const __m256 wv = _mm256_set1_ps(wc[t]);
              const float* src = ptr[static_cast<size_t>(t)] + ow;
              acc0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(src), acc0);
              acc1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(src + 8), acc1);
            }
            _mm256_storeu_ps(yrow + ow, acc0);
            _mm256_storeu_ps(yrow + ow + 8, acc1);
          }
          for (; ow < OW; ow += 8) {  // last 1-15 columns, masked
            const int64_t n = std::min<int64_t>(8, OW - ow);
            const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            __m256 acc0 = _mm256_set1_ps(b);
            for (int64_t t = 0; t < taps; ++t)
              acc0 = _mm256_fmadd_ps(_mm256_set1_ps(wc[t]), _mm256_maskload_ps(ptr[static_cast<size_t>(t)] + ow, mask), acc0);
            _mm256_maskstore_ps(yrow + ow, mask, acc0);
          }
        }
#endif
        for (; ow < OW; ++ow) {
          T acc = b;
          for (int64_t t = 0; t < taps; ++t) acc += wc[t] * ptr[static_cast<size_t>(t)][ow];
          yrow[ow] = acc;
        }
      }
    }
  }
}

// y (Mg x P, row stride ldy) = w (Mg x CgK) * col (CgK x P) [+ bias].
template <typename T>
void gemmBias(const T* w, const T* col, const T* bias, T* y, int64_t Mg, int64_t CgK, int64_t P, int64_t ldy) {
  if (P <= kDotColumns) {
    // A few output positions (batch-1 streaming convs): one dot product per output against the
    // transposed window matrix. A packed GEMM would repack all the weights for 1-4 columns.
    static thread_local std::vector<T> transposed;
    if (transposed.size() < static_cast<size_t>(P * CgK)) transposed.resize(static_cast<size_t>(P * CgK));
    for (int64_t k = 0; k < CgK; ++k)
      for (int64_t p = 0; p < P; ++p) transposed[static_cast<size_t>(p * CgK + k)] = col[k * P + p];
    using Row = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;
    for (int64_t m = 0; m < Mg; ++m) {
      const Row wrow(w + m * CgK, CgK);
      for (int64_t p = 0; p < P; ++p) y[m * ldy + p] = (bias ? bias[m] : T(0)) + wrow.dot(Row(transposed.data() + p * CgK, CgK));
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    conv::sgemmBias(Mg, P, CgK, w, CgK, col, P, y, ldy, bias);
    return;
  }
  ConstMap<T> A(w, Mg, CgK, Eigen::OuterStride<>(CgK));
  ConstMap<T> B(col, CgK, P, Eigen::OuterStride<>(P));
  MutMap<T> C(y, Mg, P, Eigen::OuterStride<>(ldy));
  C.noalias() = A * B;
  if (bias) {
    for (int64_t m = 0; m < Mg; ++m) {
      T* row = y + m * ldy;
      const T b = bias[m];
      for (int64_t p = 0; p < P; ++p) row[p] += b;
    }
  }
}

// Batches of samples with few output positions (the 1-D convs of streaming speech models: 1-4
// positions per sample): one GEMM over all samples instead of one tiny GEMM per sample.
// col is (CK x N*P): sample n's window matrix in columns [n*P, (n+1)*P); the product
// (M x N*P) is then scattered to y[n, m, :].
template <typename T>
void convSmallBatched(const T* x, const T* w, const T* bias, T* y, int64_t N, int64_t C, int64_t M, const WindowGeometry& g) {
  const int64_t K = g.kernelSize(), CK = C * K, in_size = g.inSize(), P = g.outSize(), NP = N * P;
  const int64_t rows = P / g.out.back();
  std::vector<T> sample(static_cast<size_t>(CK * P));
  std::vector<T> col(static_cast<size_t>(CK * NP));
  std::vector<T> prod(static_cast<size_t>(M * NP));
  for (int64_t n = 0; n < N; ++n) {
    conv::im2col(x + n * C * in_size, C, g, 0, rows, sample.data(), false);
    for (int64_t k = 0; k < CK; ++k) std::copy_n(sample.data() + k * P, P, col.data() + k * NP + n * P);
  }
  gemmBias(w, col.data(), bias, prod.data(), M, CK, NP, NP);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) std::copy_n(prod.data() + m * NP + n * P, P, y + (n * M + m) * P);
}

template <typename T>
void convForward(const T* x, const T* w, const T* bias, T* y, int64_t N, int64_t C, int64_t M, int64_t G,
                 const WindowGeometry& g) {
  const int64_t Cg = C / G, Mg = M / G, K = g.kernelSize(), CgK = Cg * K;
  const int64_t in_size = g.inSize(), P = g.outSize();
  const size_t r = g.rank();
  if (G == C && M == C && r == 2) {
    depthwise2d(x, w, bias, y, N * C, C, g);
    return;
  }
  if (G == C && M == C && r == 1) {
    // 1-D depthwise (the conv stacks of speech models): the 2-D kernel over 1-row planes, instead
    // of C one-row GEMMs whose setup costs far more than their few multiply-adds.
    WindowGeometry g2;
    g2.in = {1, g.in[0]};
    g2.kernel = {1, g.kernel[0]};
    g2.strides = {1, g.strides[0]};
    g2.dilations = {1, g.dilations[0]};
    g2.pad_begin = {0, g.pad_begin[0]};
    g2.pad_end = {0, g.pad_end[0]};
    g2.out = {1, g.out[0]};
    depthwise2d(x, w, bias, y, N * C, C, g2);
    return;
  }
  if (G == 1 && N > 1 && P <= kSmallOutput && CgK * N * P <= kColBudget) {
    convSmallBatched(x, w, bias, y, N, C, M, g);
    return;
  }
  bool pointwise = true;
  for (size_t d = 0; d < r; ++d)
    pointwise = pointwise && g.kernel[d] == 1 && g.strides[d] == 1 && g.pad_begin[d] == 0 && g.pad_end[d] == 0;
  const int64_t wout = g.out[r - 1];
  const int64_t rows = P / wout;
  const int64_t tile_rows = std::max<int64_t>(1, std::min(rows, kColBudget / std::max<int64_t>(1, CgK * wout)));
  const int64_t jobs = N * G;
  const double macs = double(Mg) * double(CgK) * double(P);
  // Many small GEMMs (grouped convs, batches of small images): one (batch, group) per thread.
  // Otherwise one GEMM at a time, which Eigen parallelizes itself.
  const bool outer_parallel = jobs > 1 && macs < 4e6 * 4 && macs * double(jobs) > double(kMinParallelWork) * 4;
  if (outer_parallel) {
#pragma omp parallel
    {
      std::vector<T> col(pointwise ? 0 : static_cast<size_t>(CgK * tile_rows * wout));
#pragma omp for schedule(dynamic)
      for (int64_t job = 0; job < jobs; ++job) {
        const int64_t n = job / G, grp = job % G;
        const T* xg = x + (n * C + grp * Cg) * in_size;
        const T* wg = w + grp * Mg * CgK;
        const T* bg = bias ? bias + grp * Mg : nullptr;
        T* yg = y + (n * M + grp * Mg) * P;
        if (pointwise) {
          gemmBias(wg, xg, bg, yg, Mg, CgK, P, P);
          continue;
        }
        for (int64_t r0 = 0; r0 < rows; r0 += tile_rows) {
          const int64_t r1 = std::min(rows, r0 + tile_rows);
          conv::im2col(xg, Cg, g, r0, r1, col.data(), false);
          gemmBias(wg, col.data(), bg, yg + r0 * wout, Mg, CgK, (r1 - r0) * wout, P);
        }
      }
    }
    return;
  }
  std::vector<T> col(pointwise ? 0 : static_cast<size_t>(CgK * tile_rows * wout));
  for (int64_t job = 0; job < jobs; ++job) {
    const int64_t n = job / G, grp = job % G;
    const T* xg = x + (n * C + grp * Cg) * in_size;
    const T* wg = w + grp * Mg * CgK;
    const T* bg = bias ? bias + grp * Mg : nullptr;
    T* yg = y + (n * M + grp * Mg) * P;
    if (pointwise) {
      gemmBias(wg, xg, bg, yg, Mg, CgK, P, P);
      continue;
    }
    for (int64_t r0 = 0; r0 < rows; r0 += tile_rows) {
      const int64_t r1 = std::min(rows, r0 + tile_rows);
      conv::im2col(xg, Cg, g, r0, r1, col.data(), true);
      gemmBias(wg, col.data(), bg, yg + r0 * wout, Mg, CgK, (r1 - r0) * wout, P);
    }
  }
}

Status convOp(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* w, ctx.requiredInput(1));
  const Tensor* b = ctx.input(2);
  if (x->shape.size() < 3 || x->shape.size() > 10)
    return ctx.fail("input must be N x C x D1 x ... (rank 3 to 10), got " + shapeToString(x->shape));
  if (w->shape.size() != x->shape.size())
    return ctx.fail("weight " + shapeToString(w->shape) + " and input " + shapeToString(x->shape) + " ranks differ");
  if (w->dtype != x->dtype || (b && b->dtype != x->dtype)) return ctx.fail("input, weight and bias types differ");
  const int64_t N = x->shape[0], C = x->shape[1], M = w->shape[0];
  const int64_t G = ctx.attrInt("group", 1);
  if (C <= 0 || M <= 0) return ctx.fail("input channels and output channels must be positive");
  if (G <= 0 || C % G != 0 || M % G != 0 || w->shape[1] != C / G)
    return ctx.fail("group " + std::to_string(G) + " does not match input " + shapeToString(x->shape) + " and weight " +
                    shapeToString(w->shape));
  if (b && (b->shape.size() != 1 || b->shape[0] != M)) return ctx.fail("bias must have shape [" + std::to_string(M) + "]");
  std::vector<int64_t> in_spatial(x->shape.begin() + 2, x->shape.end());
  std::vector<int64_t> kernel(w->shape.begin() + 2, w->shape.end());
  std::vector<int64_t> kattr = ctx.attrInts("kernel_shape");
  if (!kattr.empty() && kattr != kernel)
    return ctx.fail("kernel_shape " + shapeToString(kattr) + " does not match weight " + shapeToString(w->shape));
  if (product(kernel) <= 0) return ctx.fail("weight has an empty kernel " + shapeToString(w->shape));
  NNC_ASSIGN_OR_RETURN(WindowGeometry g, windowGeometry(ctx, in_spatial, kernel, false));
  std::vector<int64_t> out_shape{N, M};
  out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x->dtype, out_shape, &y);
    if (N > 0) convForward<T>(x->dataAs<T>(), w->dataAs<T>(), b ? b->dataAs<T>() : nullptr, y, N, C, M, G, g);
    ctx.setOutput(0, std::move(out));
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  return Status::ok();
}

}  // namespace

void registerConvOps(OpRegistry& registry) { registry.add({"", "Conv", 1, 1000, convOp}); }

}  // namespace nnc::ops

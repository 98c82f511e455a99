// Low-level loops shared by Conv and ConvTranspose: im2col / col2im over a range of output rows
// and the valid-index range of a strided, offset window axis. Internal to the nn family.
#pragma once

#include <algorithm>
#include <cstring>

#include "nn_common.h"
#include "parallel.h"

namespace nnc::ops::conv {

// C (M x N, row stride ldc) = A (M x K) * B (K x N) [+ bias[m] on row m]; row-major float.
// Parallel over column blocks unless called inside a parallel region (nn_gemm.cpp).
void sgemmBias(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
               const float* bias);

// The output positions o in [0, out) whose input index o*stride + offset lies in [0, in).
inline void validRange(int64_t offset, int64_t stride, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
  int64_t l = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t h = in - 1 - offset < 0 ? 0 : (in - 1 - offset) / stride + 1;
  *lo = std::min(l, out);
  *hi = std::max(*lo, std::min(h, out));
}

// "Rows" of the output are all its positions but the last spatial axis; a row holds `out.back()`
// positions. im2col writes, for channels [0, channels) of x (each of `g.inSize()` elements), the
// (channels * kernelSize) x ((row1 - row0) * out.back()) matrix of window values for output rows
// [row0, row1), zero in the padding. Parallel over matrix rows when `parallel`.
template <typename T>
void im2col(const T* x, int64_t channels, const WindowGeometry& g, int64_t row0, int64_t row1, T* col, bool parallel) {
  const size_t r = g.rank();
  const int64_t K = g.kernelSize();
  const int64_t wout = g.out[r - 1], win = g.in[r - 1];
  const int64_t cols = (row1 - row0) * wout;
  const int64_t in_size = g.inSize();
  const int64_t total_rows = channels * K;
  NNC_PARALLEL_FOR_IF(parallel && total_rows * cols > kMinParallelWork,
    for (int64_t cr = 0; cr < total_rows; ++cr) {
      const int64_t c = cr / K;
      int64_t kidx = cr % K;
      int64_t kpos[8];
      for (size_t d = r; d-- > 0;) {
        kpos[d] = kidx % g.kernel[d];
        kidx /= g.kernel[d];
      }
      const int64_t woff = kpos[r - 1] * g.dilations[r - 1] - g.pad_begin[r - 1];
      const int64_t ws = g.strides[r - 1];
      int64_t lo, hi;
      validRange(woff, ws, win, wout, &lo, &hi);
      T* dst = col + cr * cols;
      const T* xc = x + c * in_size;
      for (int64_t row = row0; row < row1; ++row, dst += wout) {
        // Input offset of this row's window start on the outer axes.
        int64_t rem = row, offset = 0, stride = win;
        bool inside = true;
        for (size_t d = r - 1; d-- > 0;) {
          const int64_t o = rem % g.out[d];
          rem /= g.out[d];
          const int64_t i = o * g.strides[d] - g.pad_begin[d] + kpos[d] * g.dilations[d];
          if (i < 0 || i >= g.in[d]) {
            inside = false;
            break;
          }
          offset += i * stride;
          stride *= g.in[d];
        }
        if (!inside) {
          std::fill(dst, dst + wout, T(0));
          continue;
        }
        const T* src = xc + offset + woff;
        std::fill(dst, dst + lo, T(0));
        if (ws == 1) {
          std::memcpy(dst + lo, src + lo, static_cast<size_t>(hi - lo) * sizeof(T));
        } else {
          for (int64_t o = lo; o < hi; ++o) dst[o] = src[o * ws];
        }
        std::fill(dst + hi, dst + wout, T(0));
      }
    });
}

}  // namespace nnc::ops::conv

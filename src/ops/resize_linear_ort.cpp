// ONNX Runtime's bilinear/trilinear Resize arithmetic (see resize_linear_ort.h). Every expression
// below keeps ORT's operand types (float unless ORT uses a double literal) and evaluation order;
// this file is compiled with -ffp-contract=off so no multiply-add is fused.
#include "resize_linear_ort.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "parallel.h"

namespace nnc::ops {
namespace {

// Per output index of one resized axis: the two clamped input indices, their float weights (d1 is
// the weight of i2, d2 the weight of i1, ORT's naming) and whether the coordinate fell outside.
struct LinearAxis {
  std::vector<int64_t> i1, i2;
  std::vector<float> d1, d2;
  std::vector<uint8_t> outside;
};

float originalCoordinate(const OrtLinearSpec& s, float x, float scale, float len_out, float len_in, float roi_start,
                         float roi_end) {
  const std::string& c = s.coord;
  if (c == "asymmetric") return x / scale;
  if (c == "pytorch_half_pixel") return len_out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
  if (c == "tf_half_pixel_for_nn") return (x + 0.5f) / scale;
  if (c == "align_corners") return len_out == 1 ? 0.0f : x * (len_in - 1) / (len_out - 1);
  if (c == "tf_crop_and_resize") {
    // ORT computes the single-pixel case in double (a 0.5 double literal).
    return len_out > 1 ? roi_start * (len_in - 1) + (x * (roi_end - roi_start) * (len_in - 1)) / (len_out - 1)
                       : static_cast<float>(0.5 * (roi_start + roi_end) * (len_in - 1));
  }
  if (c == "half_pixel_symmetric") {
    const float output_width = scale * len_in;
    const float adjustment = len_out / output_width;
    const float center = len_in / 2;
    const float offset = center * (1 - adjustment);
    return static_cast<float>(offset + (x + 0.5) / scale - 0.5);  // double, as in ORT
  }
  return (x + 0.5f) / scale - 0.5f;  // half_pixel
}

LinearAxis buildAxis(int64_t in, int64_t out, float scale, float length, float roi_start, float roi_end,
                     const OrtLinearSpec& spec) {
  LinearAxis a;
  a.i1.resize(static_cast<size_t>(out));
  a.i2.resize(static_cast<size_t>(out));
  a.d1.resize(static_cast<size_t>(out));
  a.d2.resize(static_cast<size_t>(out));
  a.outside.assign(static_cast<size_t>(out), 0);
  const float last = static_cast<float>(in - 1);
  for (int64_t o = 0; o < out; ++o) {
    const size_t k = static_cast<size_t>(o);
    // ORT skips the transform on unscaled axes (so tf_crop_and_resize's roi is ignored there).
    float v = scale == 1.0f ? static_cast<float>(o)
                            : originalCoordinate(spec, static_cast<float>(o), scale, length, static_cast<float>(in),
                                                 roi_start, roi_end);
    a.outside[k] = spec.extrapolate && (v < 0 || v > last);
    v = std::max(0.0f, std::min(v, last));
    a.i1[k] = std::min(static_cast<int64_t>(v), in - 1);
    a.i2[k] = std::min(a.i1[k] + 1, in - 1);
    a.d1[k] = std::fabs(v - static_cast<float>(a.i1[k]));
    a.d2[k] = std::fabs(v - static_cast<float>(a.i2[k]));
    if (a.i1[k] == a.i2[k]) a.d1[k] = a.d2[k] = 0.5f;
  }
  return a;
}

template <typename T>
T fromFloat(float v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    // ORT's static_cast truncates toward zero; clamp first so out-of-range values are defined.
    const float lo = static_cast<float>(std::numeric_limits<T>::lowest());
    const float hi = static_cast<float>(std::numeric_limits<T>::max());
    if (!(v > lo)) return std::numeric_limits<T>::lowest();
    if (v >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

// Bilinear over [outer, H, W, inner].
template <typename T>
void bilinear(const T* x, T* y, int64_t outer, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w, int64_t inner,
              const LinearAxis& ay, const LinearAxis& ax, T extrapolation) {
  const int64_t rows = outer * out_h;
  parallelFor(rows, out_w * inner * 8, [&](int64_t r) {
    const int64_t o = r / out_h, oy = r % out_h;
    const size_t ky = static_cast<size_t>(oy);
    T* dst = y + r * out_w * inner;
    const T* plane = x + o * in_h * in_w * inner;
    const T* row1 = plane + ay.i1[ky] * in_w * inner;
    const T* row2 = plane + ay.i2[ky] * in_w * inner;
    const float dy1 = ay.d1[ky], dy2 = ay.d2[ky];
    for (int64_t ox = 0; ox < out_w; ++ox) {
      const size_t kx = static_cast<size_t>(ox);
      T* d = dst + ox * inner;
      if (ay.outside[ky] || ax.outside[kx]) {
        std::fill(d, d + inner, extrapolation);
        continue;
      }
      const float dx1 = ax.d1[kx], dx2 = ax.d2[kx];
      const float c11 = dx2 * dy2, c21 = dx1 * dy2, c12 = dx2 * dy1, c22 = dx1 * dy1;
      const T* x11 = row1 + ax.i1[kx] * inner;
      const T* x21 = row1 + ax.i2[kx] * inner;
      const T* x12 = row2 + ax.i1[kx] * inner;
      const T* x22 = row2 + ax.i2[kx] * inner;
      for (int64_t c = 0; c < inner; ++c)
        d[c] = fromFloat<T>(c11 * static_cast<float>(x11[c]) + c21 * static_cast<float>(x21[c]) +
                            c12 * static_cast<float>(x12[c]) + c22 * static_cast<float>(x22[c]));
    }
  });
}

// Trilinear over [outer, D, H, W] (ORT has no channels-last trilinear kernel).
template <typename T>
void trilinear(const T* x, T* y, int64_t outer, const int64_t* in, const int64_t* out, const LinearAxis& az,
               const LinearAxis& ay, const LinearAxis& ax, T extrapolation) {
  const int64_t in_hw = in[1] * in[2];
  const int64_t rows = outer * out[0] * out[1];
  parallelFor(rows, out[2] * 16, [&](int64_t r) {
    const int64_t o = r / (out[0] * out[1]), oz = (r / out[1]) % out[0], oy = r % out[1];
    const size_t kz = static_cast<size_t>(oz), ky = static_cast<size_t>(oy);
    T* dst = y + r * out[2];
    const T* vol = x + o * in[0] * in_hw;
    const T* z1 = vol + az.i1[kz] * in_hw;
    const T* z2 = vol + az.i2[kz] * in_hw;
    const int64_t y1 = ay.i1[ky] * in[2], y2 = ay.i2[ky] * in[2];
    const float dz1 = az.d1[kz], dz2 = az.d2[kz], dy1 = ay.d1[ky], dy2 = ay.d2[ky];
    for (int64_t ox = 0; ox < out[2]; ++ox) {
      const size_t kx = static_cast<size_t>(ox);
      if (az.outside[kz] || ay.outside[ky] || ax.outside[kx]) {
        dst[ox] = extrapolation;
        continue;
      }
      const float dx1 = ax.d1[kx], dx2 = ax.d2[kx];
      const int64_t x1 = ax.i1[kx], x2 = ax.i2[kx];
      auto v = [](const T* p) { return static_cast<float>(*p); };
      dst[ox] = fromFloat<T>(dx2 * dy2 * dz2 * v(z1 + y1 + x1) + dx1 * dy2 * dz2 * v(z1 + y1 + x2) +
                             dx2 * dy1 * dz2 * v(z1 + y2 + x1) + dx1 * dy1 * dz2 * v(z1 + y2 + x2) +
                             dx2 * dy2 * dz1 * v(z2 + y1 + x1) + dx1 * dy2 * dz1 * v(z2 + y1 + x2) +
                             dx2 * dy1 * dz1 * v(z2 + y2 + x1) + dx1 * dy1 * dz1 * v(z2 + y2 + x2));
    }
  });
}

}  // namespace

OrtLinearLayout ortLinearLayout(const std::vector<int64_t>& in_shape, const std::vector<float>& scales) {
  OrtLinearLayout l;
  const size_t rank = in_shape.size();
  if (rank == 2) {
    l.axes = {0, 1};
  } else if (rank == 3) {
    l.axes = {0, 1, 2};
  } else if (rank == 4 && scales[0] == 1.0f && scales[1] == 1.0f) {
    l.axes = {2, 3};
    l.outer = in_shape[0] * in_shape[1];
  } else if (rank == 4 && scales[0] == 1.0f && scales[3] == 1.0f) {
    l.axes = {1, 2};
    l.outer = in_shape[0];
    l.inner = in_shape[3];
  } else if (rank == 5 && scales[0] == 1.0f && scales[1] == 1.0f) {
    l.axes = {2, 3, 4};
    l.outer = in_shape[0] * in_shape[1];
  }
  return l;
}

template <typename T>
void ortLinearResize(const T* x, T* y, const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape,
                     const OrtLinearLayout& layout, const std::vector<float>& scales, const std::vector<float>& lengths,
                     const std::vector<float>& roi, const OrtLinearSpec& spec) {
  const size_t rank = in_shape.size();
  std::vector<LinearAxis> maps;
  std::vector<int64_t> in, out;
  for (size_t a : layout.axes) {
    maps.push_back(buildAxis(in_shape[a], out_shape[a], scales[a], lengths[a], roi[a], roi[rank + a], spec));
    in.push_back(in_shape[a]);
    out.push_back(out_shape[a]);
  }
  const T extrapolation = fromFloat<T>(spec.extrapolation);
  if (maps.size() == 2) {
    bilinear<T>(x, y, layout.outer, in[0], in[1], out[0], out[1], layout.inner, maps[0], maps[1], extrapolation);
  } else {
    trilinear<T>(x, y, layout.outer, in.data(), out.data(), maps[0], maps[1], maps[2], extrapolation);
  }
}

#define NNC_INSTANTIATE(T)                                                                                         \
  template void ortLinearResize<T>(const T*, T*, const std::vector<int64_t>&, const std::vector<int64_t>&,          \
                                   const OrtLinearLayout&, const std::vector<float>&, const std::vector<float>&, \
                                   const std::vector<float>&, const OrtLinearSpec&);
NNC_INSTANTIATE(float)
NNC_INSTANTIATE(int8_t)
NNC_INSTANTIATE(uint8_t)
NNC_INSTANTIATE(int32_t)
#undef NNC_INSTANTIATE

}  // namespace nnc::ops

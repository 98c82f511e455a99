// Resize (opsets 10, 11-12, 13-17, 18, 19-21) and Upsample (7-8 scales attribute, 9 scales input).
// Modes nearest / linear / cubic over any number of axes; every coordinate_transformation_mode
// (half_pixel_symmetric from 19), nearest_mode, cubic_coeff_a, exclude_outside,
// extrapolation_value (tf_crop_and_resize with roi), scales or sizes, and from 18 antialias,
// axes and keep_aspect_ratio_policy. Upsample and Resize-10 use asymmetric coordinates and
// ONNX Runtime's "simple" nearest rounding (ceil when downsampling, floor otherwise).
// Linear mode on the shapes ONNX Runtime has a bilinear/trilinear kernel for is computed as ORT
// computes it (resize_linear_ort.h). Everything else is separable: per axis a table of (input
// index, weight) taps for each output index (the ONNX reference's neighbours and coefficients),
// applied one axis at a time, each pass vectorized over the contiguous inner dims and parallel over
// the outer ones.
#include <cmath>
#include <limits>

#include "nn_common.h"
#include "resize_linear_ort.h"
#include "parallel.h"

namespace nnc::ops {
namespace {

enum class Mode { kNearest, kLinear, kCubic };

struct ResizeSpec {
  Mode mode = Mode::kNearest;
  std::string coord = "half_pixel";
  std::string nearest_mode = "round_prefer_floor";
  bool legacy = false;  // Upsample / Resize-10
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
  bool antialias = false;
};

// Per output index of one axis: `taps` input indices and weights, or out-of-bounds (extrapolate).
struct AxisMap {
  int64_t taps = 1;
  std::vector<int64_t> idx;
  std::vector<double> w;
  std::vector<uint8_t> oob;
  bool identity = false;
};

double cubicCoeff(double x, double a) {
  x = std::abs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

int64_t nearestIndex(double x, double scale, const ResizeSpec& s) {
  if (s.legacy) return scale < 1.0 ? static_cast<int64_t>(std::ceil(x)) : static_cast<int64_t>(std::floor(x));
  const std::string& m = s.nearest_mode;
  if (m == "floor") return static_cast<int64_t>(std::floor(x));
  if (m == "ceil") return static_cast<int64_t>(std::ceil(x));
  const double f = std::floor(x);
  if (x - f == 0.5) return static_cast<int64_t>(m == "round_prefer_ceil" ? f + 1 : f);
  return static_cast<int64_t>(std::round(x));
}

AxisMap buildAxis(int64_t in, int64_t out, double scale, double roi_start, double roi_end, const ResizeSpec& s) {
  AxisMap m;
  const double s_aa = s.antialias && s.mode != Mode::kNearest ? std::min(scale, 1.0) : 1.0;
  int64_t start = 0;
  if (s.mode == Mode::kLinear) {
    start = static_cast<int64_t>(std::floor(-1.0 / s_aa)) + 1;
    m.taps = 2 - 2 * start;
  } else if (s.mode == Mode::kCubic) {
    start = static_cast<int64_t>(std::floor(-2.0 / s_aa)) + 1;
    m.taps = 2 - 2 * start;
  }
  m.idx.assign(static_cast<size_t>(out * m.taps), 0);
  m.w.assign(static_cast<size_t>(out * m.taps), 0.0);
  m.oob.assign(static_cast<size_t>(out), 0);
  // The ONNX reference uses the unrounded output length (in * scale) in the transforms below.
  const double fin = static_cast<double>(in), fout = fin * scale;
  m.identity = in == out;
  for (int64_t j = 0; j < out; ++j) {
    const double xj = static_cast<double>(j);
    double x;
    const std::string& c = s.coord;
    if (s.legacy || c == "asymmetric") {
      x = xj / scale;
    } else if (c == "half_pixel") {
      x = (xj + 0.5) / scale - 0.5;
    } else if (c == "half_pixel_symmetric") {
      const double adjustment = static_cast<double>(out) / fout;
      const double offset = fin / 2 * (1 - adjustment);
      x = offset + (xj + 0.5) / scale - 0.5;
    } else if (c == "pytorch_half_pixel") {
      x = fout > 1 ? (xj + 0.5) / scale - 0.5 : 0.0;
    } else if (c == "align_corners") {
      x = fout == 1 ? 0.0 : xj * (fin - 1) / (fout - 1);
    } else if (c == "tf_half_pixel_for_nn") {
      x = (xj + 0.5) / scale;
    } else {  // tf_crop_and_resize
      x = fout != 1 ? roi_start * (fin - 1) + xj * (roi_end - roi_start) * (fin - 1) / (fout - 1)
                  : 0.5 * (roi_start + roi_end) * (fin - 1);
    }
    int64_t* idx = &m.idx[static_cast<size_t>(j * m.taps)];
    double* w = &m.w[static_cast<size_t>(j * m.taps)];
    if (c == "tf_crop_and_resize" && !s.legacy && (x < 0 || x > fin - 1)) {
      m.oob[static_cast<size_t>(j)] = 1;
      m.identity = false;
      continue;
    }
    if (s.mode == Mode::kNearest) {
      idx[0] = std::clamp<int64_t>(nearestIndex(x, scale, s), 0, in - 1);
      w[0] = 1.0;
      m.identity = m.identity && idx[0] == j;
      continue;
    }
    // The reference's convention: ratio in (0, 1], tap t sits at x_int + start + t.
    const int64_t x_int = static_cast<int64_t>(std::ceil(x)) - 1;
    const double ratio = x - static_cast<double>(x_int);
    double sum = 0;
    for (int64_t t = 0; t < m.taps; ++t) {
      const double arg = (static_cast<double>(start + t) - ratio) * s_aa;
      const double coeff = s.mode == Mode::kLinear ? std::clamp(1.0 - std::abs(arg), 0.0, 1.0) : cubicCoeff(arg, s.cubic_a);
      const int64_t pos = x_int + start + t;
      w[t] = (s.exclude_outside && (pos < 0 || pos >= in)) ? 0.0 : coeff;
      idx[t] = std::clamp<int64_t>(pos, 0, in - 1);
      sum += w[t];
    }
    for (int64_t t = 0; t < m.taps; ++t) {
      w[t] = sum != 0 ? w[t] / sum : 0.0;
      m.identity = m.identity && (w[t] == 0.0 || (w[t] == 1.0 && idx[t] == j));
    }
  }
  return m;
}

// One separable pass: [outer, in, inner] -> [outer, out, inner] along one axis.
template <typename T>
void resizePass(const T* src, T* dst, int64_t outer, int64_t in, int64_t out, int64_t inner, const AxisMap& m, T extrapolation) {
  const int64_t taps = m.taps;
  const int64_t rows = outer * out;
  NNC_PARALLEL_FOR_IF(rows * inner * taps > kMinParallelWork,
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t o = r / out, j = r % out;
      T* d = dst + r * inner;
      const T* s = src + o * in * inner;
      if (m.oob[static_cast<size_t>(j)]) {
        std::fill(d, d + inner, extrapolation);
        continue;
      }
      const int64_t* idx = &m.idx[static_cast<size_t>(j * taps)];
      const double* w = &m.w[static_cast<size_t>(j * taps)];
      if (taps == 1) {
        std::copy(s + idx[0] * inner, s + (idx[0] + 1) * inner, d);
        continue;
      }
      if constexpr (std::is_floating_point_v<T>) {
        if (inner == 1) {
          T acc = 0;
          for (int64_t t = 0; t < taps; ++t) acc += static_cast<T>(w[t]) * s[idx[t]];
          d[0] = acc;
          continue;
        }
        const T w0 = static_cast<T>(w[0]);
        const T* s0 = s + idx[0] * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] = w0 * s0[i];
        for (int64_t t = 1; t < taps; ++t) {
          const T wt = static_cast<T>(w[t]);
          if (wt == T(0)) continue;
          const T* st = s + idx[t] * inner;
          for (int64_t i = 0; i < inner; ++i) d[i] += wt * st[i];
        }
      }
    });
}

// Applies every non-identity axis map in turn (T is the compute type).
template <typename T>
std::vector<T> resizeAll(std::vector<T> cur, std::vector<int64_t> shape, const std::vector<int64_t>& out_shape,
                         const std::vector<AxisMap>& maps, T extrapolation) {
  for (size_t a = 0; a < shape.size(); ++a) {
    if (maps[a].identity) continue;
    const int64_t outer = product(shape, 0, a), inner = product(shape, a + 1);
    std::vector<T> next(static_cast<size_t>(outer * out_shape[a] * inner));
    resizePass<T>(cur.data(), next.data(), outer, shape[a], out_shape[a], inner, maps[a], extrapolation);
    cur = std::move(next);
    shape[a] = out_shape[a];
  }
  return cur;
}

template <typename T>
T saturateRound(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    v = std::nearbyint(v);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

// Computes out dims, scales and roi, then runs the passes.
// The resized length per axis as the ONNX reference's coordinate transforms use it: in * scale,
// unrounded (ONNX Runtime uses the output length; they differ only when in * scale is fractional).
std::vector<float> resizedLengths(const std::vector<int64_t>& in, const std::vector<int64_t>& out,
                                  const std::vector<double>& scales) {
  std::vector<float> len(in.size());
  for (size_t a = 0; a < in.size(); ++a) {
    const double f = static_cast<double>(in[a]) * scales[a];
    // Scales derived from sizes (out / in) give back the output length up to rounding.
    len[a] = std::abs(f - static_cast<double>(out[a])) < 1e-9 * std::max(1.0, f) ? static_cast<float>(out[a]) : static_cast<float>(f);
  }
  return len;
}

// `scales_f` are the scales as ONNX Runtime holds them (float; out/in computed in float for sizes).
Status runResize(KernelContext& ctx, const Tensor& x, const ResizeSpec& spec, std::vector<double> scales,
                 std::vector<int64_t> out_dims, std::vector<double> roi, const std::vector<float>& scales_f) {
  const size_t rank = x.shape.size();
  for (size_t a = 0; a < rank; ++a) {
    if (out_dims[a] < 0) return ctx.fail("negative output size on axis " + std::to_string(a));
    if (!(scales[a] > 0) || !std::isfinite(scales[a])) return ctx.fail("scales must be positive");
  }
  if (roi.size() != 2 * rank) {
    roi.assign(2 * rank, 0.0);
    for (size_t a = 0; a < rank; ++a) roi[rank + a] = 1.0;
  }
  bool empty = false;
  for (size_t a = 0; a < rank; ++a) empty = empty || out_dims[a] == 0;
  for (size_t a = 0; a < rank; ++a)
    if (x.shape[a] == 0 && out_dims[a] > 0) return ctx.fail("cannot resize an empty axis to a non-empty one");
  std::vector<AxisMap> maps(rank);
  if (!empty)
    for (size_t a = 0; a < rank; ++a) maps[a] = buildAxis(x.shape[a], out_dims[a], scales[a], roi[a], roi[rank + a], spec);
  // ORT's bilinear/trilinear kernel (float, int8, uint8, int32; no antialias; its layouts only).
  OrtLinearLayout ort_layout;
  if (spec.mode == Mode::kLinear && !spec.antialias &&
      (x.dtype == DType::kFloat || x.dtype == DType::kInt8 || x.dtype == DType::kUInt8 || x.dtype == DType::kInt32))
    ort_layout = ortLinearLayout(x.shape, scales_f);
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x.dtype, out_dims, &y);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t> ||
                  std::is_same_v<T, int32_t>) {
      if (!empty && !ort_layout.axes.empty()) {
        OrtLinearSpec ort_spec;
        ort_spec.coord = spec.legacy ? "asymmetric" : spec.coord;
        ort_spec.extrapolate = !spec.legacy && spec.coord == "tf_crop_and_resize";
        ort_spec.extrapolation = static_cast<float>(spec.extrapolation);
        const std::vector<float> roi_f(roi.begin(), roi.end());
        ortLinearResize<T>(x.dataAs<T>(), y, x.shape, out_dims, ort_layout, scales_f, resizedLengths(x.shape, out_dims, scales),
                           roi_f, ort_spec);
        ctx.setOutput(0, std::move(out));
        return;
      }
    }
    if (!empty) {
      const T* xd = x.dataAs<T>();
      const int64_t n = x.elementCount();
      if (spec.mode == Mode::kNearest || std::is_floating_point_v<T>) {
        // Nearest only copies: exact in the input type.
        auto r = resizeAll<T>(std::vector<T>(xd, xd + n), x.shape, out_dims, maps, saturateRound<T>(spec.extrapolation));
        std::copy(r.begin(), r.end(), y);
      } else {
        auto r = resizeAll<double>(std::vector<double>(xd, xd + n), x.shape, out_dims, maps, spec.extrapolation);
        for (size_t i = 0; i < r.size(); ++i) y[i] = saturateRound<T>(r[i]);
      }
    }
    ctx.setOutput(0, std::move(out));
  };
  if (!dispatchNumeric(x.dtype, run)) return ctx.unsupportedHere("type " + dtypeName(x.dtype) + " is not supported");
  return Status::ok();
}

Expected<Mode> parseMode(const KernelContext& ctx) {
  const std::string mode = ctx.attrString("mode", "nearest");
  if (mode == "nearest") return Mode::kNearest;
  if (mode == "linear" || mode == "bilinear") return Mode::kLinear;  // "bilinear" in old Upsample exports
  if (mode == "cubic" && ctx.node().op_type == "Resize" && ctx.opset() >= 11) return Mode::kCubic;
  return ctx.fail("unsupported mode '" + mode + "'");
}

// Output dims from scales: floor(in * scale), as the ONNX reference and ONNX Runtime do.
std::vector<int64_t> dimsFromScales(const std::vector<int64_t>& in, const std::vector<double>& scales) {
  std::vector<int64_t> out(in.size());
  for (size_t a = 0; a < in.size(); ++a) out[a] = static_cast<int64_t>(std::floor(static_cast<double>(in[a]) * scales[a]));
  return out;
}

// Scales given as float tensors or attributes: exact as float again.
std::vector<float> toFloats(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// Upsample 7-9 and Resize 10: scales only, asymmetric coordinates.
Status upsampleLegacy(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  ResizeSpec spec;
  spec.legacy = true;
  NNC_ASSIGN_OR_RETURN(spec.mode, parseMode(ctx));
  std::vector<double> scales;
  if (ctx.node().op_type == "Upsample" && ctx.opset() < 9) {
    for (float f : ctx.attrFloats("scales")) scales.push_back(f);
  } else {
    NNC_ASSIGN_OR_RETURN(const Tensor* st, ctx.requiredInput(1));
    auto v = readDoubles(*st, "scales");
    if (!v) return v.status().withContext(ctx.node().describe());
    scales = std::move(v).value();
  }
  if (scales.size() != x->shape.size()) return ctx.fail("scales must have one value per input axis");
  return runResize(ctx, *x, spec, scales, dimsFromScales(x->shape, scales), {}, toFloats(scales));
}

// A present, non-empty optional input.
const Tensor* given(const KernelContext& ctx, size_t i) {
  const Tensor* t = ctx.input(i);
  return t && t->elementCount() > 0 ? t : nullptr;
}

// Resize 11-21.
Status resize(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  const size_t rank = x->shape.size();
  ResizeSpec spec;
  NNC_ASSIGN_OR_RETURN(spec.mode, parseMode(ctx));
  spec.coord = ctx.attrString("coordinate_transformation_mode", "half_pixel");
  static const char* kCoords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                                  "tf_half_pixel_for_nn", "tf_crop_and_resize"};
  if (std::find_if(std::begin(kCoords), std::end(kCoords), [&](const char* c) { return spec.coord == c; }) == std::end(kCoords) ||
      (spec.coord == "half_pixel_symmetric" && ctx.opset() < 19))
    return ctx.fail("unknown coordinate_transformation_mode '" + spec.coord + "'");
  spec.nearest_mode = ctx.attrString("nearest_mode", "round_prefer_floor");
  if (spec.nearest_mode != "round_prefer_floor" && spec.nearest_mode != "round_prefer_ceil" && spec.nearest_mode != "floor" &&
      spec.nearest_mode != "ceil")
    return ctx.fail("unknown nearest_mode '" + spec.nearest_mode + "'");
  spec.cubic_a = ctx.attrFloat("cubic_coeff_a", -0.75f);
  spec.exclude_outside = ctx.attrInt("exclude_outside", 0) != 0;
  spec.extrapolation = ctx.attrFloat("extrapolation_value", 0.0f);
  spec.antialias = ctx.opset() >= 18 && ctx.attrInt("antialias", 0) != 0;

  // Axes the scales/sizes/roi refer to (all, before 18).
  std::vector<int64_t> axes;
  if (ctx.opset() >= 18 && ctx.hasAttr("axes")) {
    for (int64_t a : ctx.attrInts("axes")) {
      auto n = normalizeAxis(a, static_cast<int64_t>(rank));
      if (!n) return n.status().withContext(ctx.node().describe());
      if (std::find(axes.begin(), axes.end(), *n) != axes.end()) return ctx.fail("axes has duplicates");
      axes.push_back(*n);
    }
  } else {
    for (size_t a = 0; a < rank; ++a) axes.push_back(static_cast<int64_t>(a));
  }
  const size_t na = axes.size();
  std::vector<double> roi;
  if (const Tensor* rt = given(ctx, 1); rt && spec.coord == "tf_crop_and_resize") {
    auto v = readDoubles(*rt, "roi");
    if (!v) return v.status().withContext(ctx.node().describe());
    if (v->size() != 2 * na) return ctx.fail("roi must have " + std::to_string(2 * na) + " values");
    roi.assign(2 * rank, 0.0);
    for (size_t a = 0; a < rank; ++a) roi[rank + a] = 1.0;
    for (size_t i = 0; i < na; ++i) {
      roi[static_cast<size_t>(axes[i])] = (*v)[i];
      roi[rank + static_cast<size_t>(axes[i])] = (*v)[na + i];
    }
  }
  std::vector<double> scales(rank, 1.0);
  std::vector<int64_t> out_dims = x->shape;
  const Tensor* scales_t = given(ctx, 2);
  const Tensor* sizes_t = given(ctx, 3);
  if ((scales_t == nullptr) == (sizes_t == nullptr)) return ctx.fail("exactly one of scales and sizes must be given");
  if (scales_t) {
    auto v = readDoubles(*scales_t, "scales");
    if (!v) return v.status().withContext(ctx.node().describe());
    if (v->size() != na) return ctx.fail("scales must have " + std::to_string(na) + " values");
    for (size_t i = 0; i < na; ++i) scales[static_cast<size_t>(axes[i])] = (*v)[i];
    out_dims = dimsFromScales(x->shape, scales);
  } else {
    auto v = readInts(*sizes_t, "sizes");
    if (!v) return v.status().withContext(ctx.node().describe());
    if (v->size() != na) return ctx.fail("sizes must have " + std::to_string(na) + " values");
    const std::string policy = ctx.opset() >= 18 ? ctx.attrString("keep_aspect_ratio_policy", "stretch") : "stretch";
    if (policy == "stretch") {
      for (size_t i = 0; i < na; ++i) out_dims[static_cast<size_t>(axes[i])] = (*v)[i];
    } else if (policy == "not_larger" || policy == "not_smaller") {
      double s = policy == "not_larger" ? std::numeric_limits<double>::infinity() : 0.0;
      for (size_t i = 0; i < na; ++i) {
        const double r = static_cast<double>((*v)[i]) / static_cast<double>(x->shape[static_cast<size_t>(axes[i])]);
        s = policy == "not_larger" ? std::min(s, r) : std::max(s, r);
      }
      for (size_t i = 0; i < na; ++i) {
        const size_t a = static_cast<size_t>(axes[i]);
        out_dims[a] = static_cast<int64_t>(std::nearbyint(s * static_cast<double>(x->shape[a])));
        scales[a] = s;
      }
      return runResize(ctx, *x, spec, scales, out_dims, roi, toFloats(scales));
    } else {
      return ctx.fail("unknown keep_aspect_ratio_policy '" + policy + "'");
    }
    // ORT derives float scales from sizes as float(out) / float(in).
    std::vector<float> scales_f(rank, 1.0f);
    for (size_t a = 0; a < rank; ++a) {
      if (x->shape[a] <= 0) continue;
      scales[a] = static_cast<double>(out_dims[a]) / static_cast<double>(x->shape[a]);
      scales_f[a] = static_cast<float>(out_dims[a]) / static_cast<float>(x->shape[a]);
    }
    return runResize(ctx, *x, spec, scales, out_dims, roi, scales_f);
  }
  return runResize(ctx, *x, spec, scales, out_dims, roi, toFloats(scales));
}

}  // namespace

void registerResizeOps(OpRegistry& registry) {
  registry.add({"", "Upsample", 7, 9, upsampleLegacy});
  registry.add({"", "Resize", 10, 10, upsampleLegacy});
  registry.add({"", "Resize", 11, 1000, resize});
}

}  // namespace nnc::ops

// Pooling: MaxPool (opsets 1-21: ceil_mode, dilations, storage_order, Indices output, int8/uint8),
// AveragePool (1-21: count_include_pad, ceil_mode, dilations from 19), LpPool (1-21: p, ceil_mode
// and dilations from 18), GlobalAveragePool, GlobalMaxPool, GlobalLpPool.
// 1 to 3 spatial dims (fewer are padded with unit dims). Per axis a table gives each output
// index its first valid input index and tap count, so the window loops never test bounds.
// OpenMP over the N*C planes.
#include <cmath>
#include <limits>

#include "nn_common.h"
#include "parallel.h"

namespace nnc::ops {
namespace {

// For one spatial axis: for each output index, the first in-bounds input index, the number of
// in-bounds taps (step = dilation) and the number of taps inside the padded input.
struct AxisTable {
  std::vector<int64_t> first, count, padded_count;
  int64_t dilation = 1;
};

AxisTable axisTable(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  AxisTable t;
  t.dilation = d;
  t.first.resize(static_cast<size_t>(out));
  t.count.resize(static_cast<size_t>(out));
  t.padded_count.resize(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t start = o * s - pb;
    int64_t t0 = start >= 0 ? 0 : (-start + d - 1) / d;
    int64_t t1 = std::min(k, in - 1 - start < 0 ? 0 : (in - 1 - start) / d + 1);  // exclusive
    if (t1 < t0) t1 = t0;
    int64_t p1 = std::min(k, in + pe - 1 - start < 0 ? 0 : (in + pe - 1 - start) / d + 1);
    t.first[static_cast<size_t>(o)] = start + t0 * d;
    t.count[static_cast<size_t>(o)] = t1 - t0;
    t.padded_count[static_cast<size_t>(o)] = std::max<int64_t>(p1, 0);  // taps from start (>= -pb) to the end pad
  }
  return t;
}

enum class PoolKind { kMax, kAverage, kLp };

struct PoolParams {
  PoolKind kind = PoolKind::kMax;
  bool count_include_pad = false;
  double p = 2;
  int storage_order = 0;
};

// MaxPool without indices, a whole output row at a time: for the outputs whose window is
// complete along the width (all but a few at the edges), each tap updates the row in one loop over
// the outputs, which the compiler vectorizes; the edge outputs take the per-output loop. Taps are
// visited in the per-output order and compared the same way (v > best), so the result (NaNs
// included) is the per-output loop's.
template <typename T>
void maxPoolRows(const T* x, T* y, int64_t planes, const WindowGeometry& g3, const AxisTable (&ax)[3]) {
  const int64_t H = g3.in[1], W = g3.in[2], OD = g3.out[0], OH = g3.out[1], OW = g3.out[2];
  const int64_t KW = g3.kernel[2], sw = g3.strides[2];
  const int64_t dd = ax[0].dilation, dh = ax[1].dilation, dw = ax[2].dilation;
  const int64_t in_size = g3.inSize(), out_size = g3.outSize();
  int64_t lo = 0, hi = OW;  // complete windows: [lo, hi)
  while (lo < OW && ax[2].count[lo] != KW) ++lo;
  hi = lo;
  while (hi < OW && ax[2].count[hi] == KW) ++hi;
  NNC_PARALLEL_FOR_IF(planes * out_size * g3.kernelSize() > kMinParallelWork,
    for (int64_t p = 0; p < planes; ++p) {
      const T* xp = x + p * in_size;
      for (int64_t od = 0; od < OD; ++od) {
        const int64_t d0 = ax[0].first[od], dn = ax[0].count[od];
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t h0 = ax[1].first[oh], hn = ax[1].count[oh];
          T* __restrict yr = y + p * out_size + (od * OH + oh) * OW;
          auto one = [&](int64_t ow) {  // per-output loop (edges)
            const int64_t w0 = ax[2].first[ow], wn = ax[2].count[ow];
            T best = std::numeric_limits<T>::lowest();
            bool first = true;
            for (int64_t a = 0; a < dn; ++a)
              for (int64_t b = 0; b < hn; ++b) {
                const T* row = xp + ((d0 + a * dd) * H + h0 + b * dh) * W + w0;
                for (int64_t c = 0; c < wn; ++c) {
                  const T v = row[c * dw];
                  if (v > best || first) best = v;
                  first = false;
                }
              }
            yr[ow] = best;
          };
          for (int64_t ow = 0; ow < lo; ++ow) one(ow);
          for (int64_t ow = hi; ow < OW; ++ow) one(ow);
          if (lo >= hi) continue;
          if (dn * hn == 0) {
            for (int64_t ow = lo; ow < hi; ++ow) one(ow);
            continue;
          }
          const int64_t base = ax[2].first[lo] - lo * sw;  // input column of output ow's first tap: base + ow * sw
          bool first = true;
          for (int64_t a = 0; a < dn; ++a)
            for (int64_t b = 0; b < hn; ++b) {
              const T* __restrict row = xp + ((d0 + a * dd) * H + h0 + b * dh) * W;
              for (int64_t c = 0; c < KW; ++c) {
                const int64_t off = base + c * dw;  // >= 0 for every ow in [lo, hi)
                if (first) {
                  for (int64_t ow = lo; ow < hi; ++ow) yr[ow] = row[off + ow * sw];
                  first = false;
                } else {
                  for (int64_t ow = lo; ow < hi; ++ow) {
                    const T v = row[off + ow * sw];
                    yr[ow] = v > yr[ow] ? v : yr[ow];
                  }
                }
              }
            }
        }
      }
    });
}

// Pools every plane of x (planes x D x H x W after padding the geometry to 3 spatial dims).
template <typename T>
void poolPlanes(const T* x, T* y, int64_t* indices, int64_t planes, const WindowGeometry& g3, const PoolParams& prm) {
  AxisTable ax[3];
  for (int d = 0; d < 3; ++d)
    ax[d] = axisTable(g3.in[d], g3.out[d], g3.kernel[d], g3.strides[d], g3.dilations[d], g3.pad_begin[d], g3.pad_end[d]);
  if (prm.kind == PoolKind::kMax && indices == nullptr) {
    maxPoolRows(x, y, planes, g3, ax);
    return;
  }
  const int64_t D = g3.in[0], H = g3.in[1], W = g3.in[2];
  const int64_t OD = g3.out[0], OH = g3.out[1], OW = g3.out[2];
  const int64_t in_size = D * H * W, out_size = OD * OH * OW;
  const int64_t dd = ax[0].dilation, dh = ax[1].dilation, dw = ax[2].dilation;
  using Acc = std::conditional_t<std::is_floating_point_v<T>, T, double>;
  NNC_PARALLEL_FOR_IF(planes * out_size * g3.kernelSize() > kMinParallelWork,
    for (int64_t p = 0; p < planes; ++p) {
      const T* xp = x + p * in_size;
      T* yp = y + p * out_size;
      for (int64_t od = 0; od < OD; ++od) {
        const int64_t d0 = ax[0].first[od], dn = ax[0].count[od];
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t h0 = ax[1].first[oh], hn = ax[1].count[oh];
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t w0 = ax[2].first[ow], wn = ax[2].count[ow];
            const int64_t o = (od * OH + oh) * OW + ow;
            if (prm.kind == PoolKind::kMax) {
              T best = std::numeric_limits<T>::lowest();
              int64_t best_i = -1;
              for (int64_t a = 0; a < dn; ++a)
                for (int64_t b = 0; b < hn; ++b) {
                  const int64_t row = ((d0 + a * dd) * H + h0 + b * dh) * W + w0;
                  for (int64_t c = 0; c < wn; ++c) {
                    const T v = xp[row + c * dw];
                    if (v > best || best_i < 0) {
                      best = v;
                      best_i = row + c * dw;
                    }
                  }
                }
              yp[o] = best;
              if (indices) {
                int64_t idx = best_i;
                if (prm.storage_order == 1 && best_i >= 0) {  // column-major position within the plane
                  const int64_t iw = best_i % W, ih = (best_i / W) % H, id = best_i / (W * H);
                  idx = (iw * H + ih) * D + id;
                }
                indices[p * out_size + o] = p * in_size + idx;
              }
            } else if (prm.kind == PoolKind::kAverage) {
              Acc sum = 0;
              for (int64_t a = 0; a < dn; ++a)
                for (int64_t b = 0; b < hn; ++b) {
                  const T* row = xp + ((d0 + a * dd) * H + h0 + b * dh) * W + w0;
                  for (int64_t c = 0; c < wn; ++c) sum += row[c * dw];
                }
              const int64_t n = prm.count_include_pad ? ax[0].padded_count[od] * ax[1].padded_count[oh] * ax[2].padded_count[ow]
                                                      : dn * hn * wn;
              yp[o] = n > 0 ? static_cast<T>(sum / static_cast<Acc>(n)) : T(0);
            } else {
              Acc sum = 0;
              for (int64_t a = 0; a < dn; ++a)
                for (int64_t b = 0; b < hn; ++b) {
                  const T* row = xp + ((d0 + a * dd) * H + h0 + b * dh) * W + w0;
                  for (int64_t c = 0; c < wn; ++c) sum += static_cast<Acc>(std::pow(std::abs(static_cast<double>(row[c * dw])), prm.p));
                }
              yp[o] = static_cast<T>(std::pow(static_cast<double>(sum), 1.0 / prm.p));
            }
          }
        }
      }
    });
}

// Pads a geometry of 1-3 spatial dims to exactly 3 (leading unit dims).
WindowGeometry toThreeDims(const WindowGeometry& g) {
  WindowGeometry g3;
  const size_t lead = 3 - g.rank();
  auto pad = [&](const std::vector<int64_t>& v, int64_t unit) {
    std::vector<int64_t> r(lead, unit);
    r.insert(r.end(), v.begin(), v.end());
    return r;
  };
  g3.in = pad(g.in, 1);
  g3.kernel = pad(g.kernel, 1);
  g3.strides = pad(g.strides, 1);
  g3.dilations = pad(g.dilations, 1);
  g3.pad_begin = pad(g.pad_begin, 0);
  g3.pad_end = pad(g.pad_end, 0);
  g3.out = pad(g.out, 1);
  return g3;
}

Status pool(KernelContext& ctx, PoolParams prm) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  const size_t rank = x->shape.size();
  if (rank < 3 || rank > 5) return ctx.unsupportedHere("pooling supports 1 to 3 spatial dims, input is " + shapeToString(x->shape));
  std::vector<int64_t> kernel = ctx.attrInts("kernel_shape");
  if (kernel.size() != rank - 2) return ctx.fail("kernel_shape must have " + std::to_string(rank - 2) + " values");
  const bool ceil_mode = ctx.attrInt("ceil_mode", 0) != 0;
  std::vector<int64_t> spatial(x->shape.begin() + 2, x->shape.end());
  NNC_ASSIGN_OR_RETURN(WindowGeometry g, windowGeometry(ctx, spatial, kernel, ceil_mode));
  std::vector<int64_t> out_shape{x->shape[0], x->shape[1]};
  out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
  const int64_t planes = x->shape[0] * x->shape[1];
  const WindowGeometry g3 = toThreeDims(g);
  const bool want_indices = prm.kind == PoolKind::kMax && ctx.outputCount() > 1 && ctx.outputWanted(1);
  int64_t* indices = nullptr;
  if (want_indices) ctx.setOutput(1, allocate<int64_t>(DType::kInt64, out_shape, &indices));
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x->dtype, out_shape, &y);
    poolPlanes<T>(x->dataAs<T>(), y, indices, planes, g3, prm);
    ctx.setOutput(0, std::move(out));
  };
  const bool handled = prm.kind == PoolKind::kMax ? dispatchNumeric(x->dtype, run) : dispatchFloat(x->dtype, run);
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  return Status::ok();
}

Status maxPool(KernelContext& ctx) {
  PoolParams prm;
  prm.kind = PoolKind::kMax;
  prm.storage_order = static_cast<int>(ctx.attrInt("storage_order", 0));
  return pool(ctx, prm);
}

Status averagePool(KernelContext& ctx) {
  PoolParams prm;
  prm.kind = PoolKind::kAverage;
  prm.count_include_pad = ctx.attrInt("count_include_pad", 0) != 0;
  return pool(ctx, prm);
}

// p is a float attribute in LpPool-1 and an int from opset 2.
double lpNorm(const KernelContext& ctx) {
  const Attribute* a = ctx.node().attr("p");
  if (a == nullptr) return 2.0;
  return ctx.opset() < 2 ? ctx.attrFloat("p", 2.0f) : static_cast<double>(ctx.attrInt("p", 2));
}

Status lpPool(KernelContext& ctx) {
  PoolParams prm;
  prm.kind = PoolKind::kLp;
  prm.p = lpNorm(ctx);
  return pool(ctx, prm);
}

// Global pools: one reduction per plane over all spatial positions.
Status globalPool(KernelContext& ctx, PoolKind kind) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  if (x->shape.size() < 2) return ctx.fail("input must be N x C x ..., got " + shapeToString(x->shape));
  const double p = kind == PoolKind::kLp ? lpNorm(ctx) : 2.0;
  std::vector<int64_t> out_shape(x->shape.size(), 1);
  out_shape[0] = x->shape[0];
  out_shape[1] = x->shape[1];
  const int64_t planes = x->shape[0] * x->shape[1];
  const int64_t size = product(x->shape, 2);
  if (size == 0 && planes > 0) return ctx.fail("input has an empty spatial dim " + shapeToString(x->shape));
  auto run = [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    Tensor out = allocate<T>(x->dtype, out_shape, &y);
    const T* xd = x->dataAs<T>();
    NNC_PARALLEL_FOR_IF(planes * size > kMinParallelWork,
      for (int64_t pl = 0; pl < planes; ++pl) {
        const T* xp = xd + pl * size;
        if (kind == PoolKind::kMax) {
          T best = xp[0];
          for (int64_t i = 1; i < size; ++i) best = xp[i] > best ? xp[i] : best;
          y[pl] = best;
        } else if (kind == PoolKind::kAverage) {
          T sum = 0;
          for (int64_t i = 0; i < size; ++i) sum += xp[i];
          y[pl] = sum / static_cast<T>(size);
        } else {
          double sum = 0;
          for (int64_t i = 0; i < size; ++i) sum += std::pow(std::abs(static_cast<double>(xp[i])), p);
          y[pl] = static_cast<T>(std::pow(sum, 1.0 / p));
        }
      });
    ctx.setOutput(0, std::move(out));
  };
  const bool handled = kind == PoolKind::kMax ? dispatchNumeric(x->dtype, run) : dispatchFloat(x->dtype, run);
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  return Status::ok();
}

Status globalMaxPool(KernelContext& ctx) { return globalPool(ctx, PoolKind::kMax); }
Status globalAveragePool(KernelContext& ctx) { return globalPool(ctx, PoolKind::kAverage); }
Status globalLpPool(KernelContext& ctx) { return globalPool(ctx, PoolKind::kLp); }

}  // namespace

void registerPoolOps(OpRegistry& registry) {
  registry.add({"", "MaxPool", 1, 1000, maxPool});
  registry.add({"", "AveragePool", 1, 1000, averagePool});
  registry.add({"", "LpPool", 1, 1000, lpPool});
  registry.add({"", "GlobalMaxPool", 1, 1000, globalMaxPool});
  registry.add({"", "GlobalAveragePool", 1, 1000, globalAveragePool});
  registry.add({"", "GlobalLpPool", 1, 1000, globalLpPool});
}

}  // namespace nnc::ops

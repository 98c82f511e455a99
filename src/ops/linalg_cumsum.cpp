// CumSum (opsets 11-21): running sum along the axis given by input 1 (a scalar or 1-element
// tensor), with `exclusive` (each output leaves out its own element) and `reverse` attributes.
// Sums run over whole rows of the [outer, n, inner] view, so the inner loop is contiguous.
#include "linalg.h"
#include "op_util.h"
#include "parallel.h"

namespace nnc::ops::linalg {
namespace {

Status cumSum(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* axis_t, ctx.requiredInput(1));
  auto axis_v = readInts(*axis_t, "axis");
  if (!axis_v) return axis_v.status().withContext(ctx.node().describe());
  if (axis_v->size() != 1) return ctx.fail("axis must hold one value");
  auto axis = normalizeAxis((*axis_v)[0], static_cast<int64_t>(x->shape.size()));
  if (!axis) return axis.status().withContext(ctx.node().describe());
  const bool exclusive = ctx.attrInt("exclusive", 0) != 0, reverse = ctx.attrInt("reverse", 0) != 0;
  const size_t ax = static_cast<size_t>(*axis);
  const int64_t outer = product(x->shape, 0, ax), n = x->shape[ax], inner = product(x->shape, ax + 1);
  Tensor out;
  bool handled = dispatchNumeric(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    out = allocate<T>(x->dtype, x->shape, &y);
    const T* p = x->dataAs<T>();
    if (outer * n * inner == 0) return;
    NNC_PARALLEL_FOR_IF(outer > 1 && outer * n * inner > kMinParallelWork,
      for (int64_t o = 0; o < outer; ++o) {
        const T* src = p + o * n * inner;
        T* dst = y + o * n * inner;
        const T* prev_in = nullptr;  // the input row added last
        T* prev_out = nullptr;       // the output row written last
        for (int64_t step = 0; step < n; ++step) {
          const int64_t i = reverse ? n - 1 - step : step;
          const T* in = src + i * inner;
          T* row = dst + i * inner;
          if (step == 0) {
            for (int64_t j = 0; j < inner; ++j) row[j] = exclusive ? T(0) : in[j];
          } else {
            const T* add = exclusive ? prev_in : in;
            for (int64_t j = 0; j < inner; ++j) row[j] = static_cast<T>(prev_out[j] + add[j]);
          }
          prev_in = in;
          prev_out = row;
        }
      });
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

}  // namespace

void registerCumSumOps(OpRegistry& registry) { registry.add({"", "CumSum", 11, 1000, cumSum}); }

}  // namespace nnc::ops::linalg

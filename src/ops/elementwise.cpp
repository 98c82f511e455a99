// Elementwise arithmetic with numpy broadcasting (Add, Sub, Mul, Div; opsets 7-21) and Relu.
// The pattern for other elementwise ops: a functor per op, dispatched over the input dtype.
#include "op_util.h"

namespace nnc::ops {
namespace {

template <typename Op>
Status binaryArithmetic(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b, ctx.requiredInput(1));
  if (a->dtype != b->dtype) return ctx.fail("inputs have different types " + dtypeName(a->dtype) + " and " + dtypeName(b->dtype));
  Status status;
  bool handled = dispatchNumeric(a->dtype, [&](auto zero) {
    using T = decltype(zero);
    auto out = binaryBroadcast<T, T>(*a, *b, a->dtype, [](T x, T y) { return Op::template apply<T>(x, y); });
    if (!out) status = out.status().withContext(ctx.node().describe());
    else ctx.setOutput(0, std::move(out).value());
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(a->dtype) + " is not supported");
  return status;
}

struct AddOp { template <typename T> static T apply(T x, T y) { return static_cast<T>(x + y); } };
struct SubOp { template <typename T> static T apply(T x, T y) { return static_cast<T>(x - y); } };
struct MulOp { template <typename T> static T apply(T x, T y) { return static_cast<T>(x * y); } };
struct DivOp {
  template <typename T>
  static T apply(T x, T y) {
    if constexpr (std::is_integral_v<T>) return y == 0 ? T(0) : static_cast<T>(x / y);  // ORT: no trap
    else return x / y;
  }
};

Status relu(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  bool handled = dispatchNumeric(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    ctx.setOutput(0, unaryMap<T, T>(*x, x->dtype, [](T v) { return v > T(0) ? v : T(0); }));
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  return Status::ok();
}

}  // namespace

void registerElementwiseOps(OpRegistry& registry) {
  registry.add({"", "Add", 7, 1000, binaryArithmetic<AddOp>});
  registry.add({"", "Sub", 7, 1000, binaryArithmetic<SubOp>});
  registry.add({"", "Mul", 7, 1000, binaryArithmetic<MulOp>});
  registry.add({"", "Div", 7, 1000, binaryArithmetic<DivOp>});
  registry.add({"", "Relu", 6, 1000, relu});
}

}  // namespace nnc::ops

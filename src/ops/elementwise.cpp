// Elementwise arithmetic with numpy broadcasting: Add, Sub, Mul, Div (opsets 1-21; the legacy
// `broadcast`/`axis` attributes of opsets 1-6 are honoured). Also the family's registration
// entry point, which registers the other elementwise files (unary math, activations,
// comparisons/logic, binary math, casts).
#include "elementwise_util.h"

namespace nnc::ops {

void registerUnaryMathOps(OpRegistry& registry);
void registerActivationOps(OpRegistry& registry);
void registerCompareLogicOps(OpRegistry& registry);
void registerBinaryMathOps(OpRegistry& registry);
void registerCastOps(OpRegistry& registry);

namespace ew {

Expected<Tensor> legacyBroadcastOperand(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  if (ctx.opset() >= 7 || ctx.attrInt("broadcast", 0) == 0) {
    if (ctx.opset() < 7 && a.shape != b.shape)
      return ctx.fail("inputs of shapes " + shapeToString(a.shape) + " and " + shapeToString(b.shape) +
                      " need broadcast=1 before opset 7");
    return b;
  }
  if (!ctx.hasAttr("axis")) return b;  // suffix alignment, as numpy does
  const int64_t rank = static_cast<int64_t>(a.shape.size());
  const int64_t brank = static_cast<int64_t>(b.shape.size());
  int64_t axis = ctx.attrInt("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis + brank > rank) return ctx.fail("broadcast axis " + std::to_string(axis) + " does not fit shape " + shapeToString(a.shape));
  std::vector<int64_t> shape(static_cast<size_t>(axis), 1);
  shape.insert(shape.end(), b.shape.begin(), b.shape.end());
  shape.resize(static_cast<size_t>(rank), 1);
  return reshaped(b, std::move(shape));
}

}  // namespace ew

namespace {

template <typename Op>
Status binaryArithmetic(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b0, ctx.requiredInput(1));
  if (a->dtype != b0->dtype) return ctx.fail("inputs have different types " + dtypeName(a->dtype) + " and " + dtypeName(b0->dtype));
  NNC_ASSIGN_OR_RETURN(Tensor b, ew::legacyBroadcastOperand(ctx, *a, *b0));
  Status status;
  bool handled = dispatchNumeric(a->dtype, [&](auto zero) {
    using T = decltype(zero);
    auto out = ew::binary<T, T, T>(*a, b, a->dtype, [](T x, T y) { return Op::template apply<T>(x, y); });
    if (!out) status = out.status().withContext(ctx.node().describe());
    else ctx.setOutput(0, std::move(out).value());
  });
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(a->dtype));
  return status;
}

struct AddOp {
  template <typename T> static T apply(T x, T y) {
    if constexpr (std::is_integral_v<T>) return ew::wrapAdd(x, y);
    else return x + y;
  }
};
struct SubOp {
  template <typename T> static T apply(T x, T y) {
    if constexpr (std::is_integral_v<T>) return ew::wrapSub(x, y);
    else return x - y;
  }
};
struct MulOp {
  template <typename T> static T apply(T x, T y) {
    if constexpr (std::is_integral_v<T>) return ew::wrapMul(x, y);
    else return x * y;
  }
};
struct DivOp {
  template <typename T>
  static T apply(T x, T y) {
    if constexpr (std::is_integral_v<T>) {
      if (y == 0) return T(0);  // ORT: no trap
      if constexpr (std::is_signed_v<T>)
        if (y == T(-1)) return ew::wrapSub(T(0), x);  // MIN / -1 would trap
      return static_cast<T>(x / y);  // truncation toward zero
    } else {
      return x / y;
    }
  }
};

}  // namespace

void registerElementwiseOps(OpRegistry& registry) {
  registry.add({"", "Add", 1, 1000, binaryArithmetic<AddOp>});
  registry.add({"", "Sub", 1, 1000, binaryArithmetic<SubOp>});
  registry.add({"", "Mul", 1, 1000, binaryArithmetic<MulOp>});
  registry.add({"", "Div", 1, 1000, binaryArithmetic<DivOp>});
  registerUnaryMathOps(registry);
  registerActivationOps(registry);
  registerCompareLogicOps(registry);
  registerBinaryMathOps(registry);
  registerCastOps(registry);
}

}  // namespace nnc::ops

// Comparisons and logic with numpy broadcasting: Equal, Less, Greater (opsets 1-21; the legacy
// broadcast attribute of 1-6 is honoured), LessOrEqual, GreaterOrEqual (12-21) -> bool;
// And, Or, Xor (1-21, bool); BitShift (11-21, unsigned ints); BitwiseAnd/Or/Xor (18-21, ints);
// Where (9-21, three-way broadcast; selects any fixed-size element type, float16 included).
// String tensors are not supported.
#include <cmath>

#include "elementwise_util.h"

namespace nnc::ops {
namespace {

// Both inputs of a binary op, with B reshaped for the legacy broadcast form when needed.
struct Operands {
  const Tensor* a;
  Tensor b;
};

Expected<Operands> sameTypedOperands(const KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b, ctx.requiredInput(1));
  if (a->dtype != b->dtype) return ctx.fail("inputs have different types " + dtypeName(a->dtype) + " and " + dtypeName(b->dtype));
  NNC_ASSIGN_OR_RETURN(Tensor bb, ew::legacyBroadcastOperand(ctx, *a, *b));
  return Operands{a, std::move(bb)};
}

template <typename T, typename R, typename F>
Status setBinary(KernelContext& ctx, const Tensor& a, const Tensor& b, DType out_type, F&& fn) {
  auto out = ew::binary<T, T, R>(a, b, out_type, fn);
  if (!out) return out.status().withContext(ctx.node().describe());
  ctx.setOutput(0, std::move(out).value());
  return Status::ok();
}

struct EqualOp { template <typename T> static bool apply(T x, T y) { return x == y; } };
struct LessOp { template <typename T> static bool apply(T x, T y) { return x < y; } };
struct GreaterOp { template <typename T> static bool apply(T x, T y) { return x > y; } };
struct LessOrEqualOp { template <typename T> static bool apply(T x, T y) { return x <= y; } };
struct GreaterOrEqualOp { template <typename T> static bool apply(T x, T y) { return x >= y; } };

template <typename Op>
Status compare(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(Operands in, sameTypedOperands(ctx));
  Status status;
  bool handled = ew::dispatchNumericOrBool(in.a->dtype, [&](auto zero) {
    using T = decltype(zero);
    status = setBinary<T, uint8_t>(ctx, *in.a, in.b, DType::kBool, [](T x, T y) { return static_cast<uint8_t>(Op::apply(x, y)); });
  });
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(in.a->dtype));
  return status;
}

struct AndOp { static uint8_t apply(uint8_t x, uint8_t y) { return (x != 0) & (y != 0); } };
struct OrOp { static uint8_t apply(uint8_t x, uint8_t y) { return (x != 0) | (y != 0); } };
struct XorOp { static uint8_t apply(uint8_t x, uint8_t y) { return (x != 0) ^ (y != 0); } };

template <typename Op>
Status logical(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(Operands in, sameTypedOperands(ctx));
  if (in.a->dtype != DType::kBool) return ctx.unsupportedHere(ew::typeNotSupported(in.a->dtype));
  return setBinary<uint8_t, uint8_t>(ctx, *in.a, in.b, DType::kBool, [](uint8_t x, uint8_t y) { return Op::apply(x, y); });
}

struct BitAndOp { template <typename T> static T apply(T x, T y) { return static_cast<T>(x & y); } };
struct BitOrOp { template <typename T> static T apply(T x, T y) { return static_cast<T>(x | y); } };
struct BitXorOp { template <typename T> static T apply(T x, T y) { return static_cast<T>(x ^ y); } };

template <typename Op>
Status bitwise(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(Operands in, sameTypedOperands(ctx));
  Status status;
  bool handled = ew::dispatchInteger(in.a->dtype, [&](auto zero) {
    using T = decltype(zero);
    status = setBinary<T, T>(ctx, *in.a, in.b, in.a->dtype, [](T x, T y) { return Op::apply(x, y); });
  });
  if (!handled) return ctx.unsupportedHere(ew::typeNotSupported(in.a->dtype));
  return status;
}

Status bitShift(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(Operands in, sameTypedOperands(ctx));
  const std::string direction = ctx.attrString("direction", "");
  if (direction != "LEFT" && direction != "RIGHT") return ctx.fail("direction must be LEFT or RIGHT, got '" + direction + "'");
  const bool left = direction == "LEFT";
  auto run = [&](auto zero) -> Status {
    using T = decltype(zero);
    constexpr T bits = sizeof(T) * 8;
    // Shifting by the width or more gives 0 (C++ leaves it undefined).
    if (left) return setBinary<T, T>(ctx, *in.a, in.b, in.a->dtype, [](T x, T s) { return s >= bits ? T(0) : static_cast<T>(x << s); });
    return setBinary<T, T>(ctx, *in.a, in.b, in.a->dtype, [](T x, T s) { return s >= bits ? T(0) : static_cast<T>(x >> s); });
  };
  switch (in.a->dtype) {
    case DType::kUInt8: return run(uint8_t{});
    case DType::kUInt16: return run(uint16_t{});
    case DType::kUInt32: return run(uint32_t{});
    case DType::kUInt64: return run(uint64_t{});
    default: return ctx.unsupportedHere(ew::typeNotSupported(in.a->dtype));
  }
}

template <typename T>
Tensor selectWhere(const Tensor& cond, const Tensor& x, const Tensor& y, const std::vector<int64_t>& shape) {
  T* out = nullptr;
  Tensor result = allocate<T>(x.dtype, shape, &out);
  const uint8_t* pc = cond.dataAs<uint8_t>();
  const T* px = x.dataAs<T>();
  const T* py = y.dataAs<T>();
  auto plan = ew::planBroadcast<3>(shape, {&cond.shape, &x.shape, &y.shape});
  ew::forEachRun<3>(plan, [&](int64_t o, const std::array<int64_t, 3>& off, const std::array<int64_t, 3>& inner, int64_t len) {
    const uint8_t* c = pc + off[0];
    const T* a = px + off[1];
    const T* b = py + off[2];
    T* z = out + o;
    // Both sides are loaded unconditionally so the selects vectorize.
    if (inner[0] && inner[1] && inner[2]) {
      for (int64_t i = 0; i < len; ++i) {
        const T x = a[i], y = b[i];
        z[i] = c[i] ? x : y;
      }
    } else if (inner[0] && inner[1]) {
      const T y = *b;
      for (int64_t i = 0; i < len; ++i) {
        const T x = a[i];
        z[i] = c[i] ? x : y;
      }
    } else if (inner[0] && inner[2]) {
      const T x = *a;
      for (int64_t i = 0; i < len; ++i) {
        const T y = b[i];
        z[i] = c[i] ? x : y;
      }
    } else {
      const int64_t sc = inner[0], sa = inner[1], sb = inner[2];
      for (int64_t i = 0; i < len; ++i) z[i] = c[i * sc] ? a[i * sa] : b[i * sb];
    }
  });
  return result;
}

Status where(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* cond, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(1));
  NNC_ASSIGN_OR_RETURN(const Tensor* y, ctx.requiredInput(2));
  if (cond->dtype != DType::kBool) return ctx.fail("condition must be bool, got " + dtypeName(cond->dtype));
  if (x->dtype != y->dtype) return ctx.fail("X and Y have different types " + dtypeName(x->dtype) + " and " + dtypeName(y->dtype));
  auto shape = broadcastShapes({cond->shape, x->shape, y->shape});
  if (!shape) return shape.status().withContext(ctx.node().describe());
  // Selection only copies elements, so any fixed-size type works by its width.
  switch (x->dtype == DType::kString ? 0 : dtypeBits(x->dtype)) {
    case 8: ctx.setOutput(0, selectWhere<uint8_t>(*cond, *x, *y, *shape)); break;
    case 16: ctx.setOutput(0, selectWhere<uint16_t>(*cond, *x, *y, *shape)); break;
    case 32: ctx.setOutput(0, selectWhere<uint32_t>(*cond, *x, *y, *shape)); break;
    case 64: ctx.setOutput(0, selectWhere<uint64_t>(*cond, *x, *y, *shape)); break;
    default: return ctx.unsupportedHere(ew::typeNotSupported(x->dtype));
  }
  return Status::ok();
}

}  // namespace

void registerCompareLogicOps(OpRegistry& registry) {
  registry.add({"", "Equal", 1, 1000, compare<EqualOp>});
  registry.add({"", "Less", 1, 1000, compare<LessOp>});
  registry.add({"", "Greater", 1, 1000, compare<GreaterOp>});
  registry.add({"", "LessOrEqual", 12, 1000, compare<LessOrEqualOp>});
  registry.add({"", "GreaterOrEqual", 12, 1000, compare<GreaterOrEqualOp>});
  registry.add({"", "And", 1, 1000, logical<AndOp>});
  registry.add({"", "Or", 1, 1000, logical<OrOp>});
  registry.add({"", "Xor", 1, 1000, logical<XorOp>});
  registry.add({"", "BitShift", 11, 1000, bitShift});
  registry.add({"", "BitwiseAnd", 18, 1000, bitwise<BitAndOp>});
  registry.add({"", "BitwiseOr", 18, 1000, bitwise<BitOrOp>});
  registry.add({"", "BitwiseXor", 18, 1000, bitwise<BitXorOp>});
  registry.add({"", "Where", 9, 1000, where, true});
}

}  // namespace nnc::ops

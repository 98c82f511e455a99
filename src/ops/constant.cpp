// Constant (opsets 1-21: value, value_float(s), value_int(s), value_string(s)) and Identity.
#include "op_util.h"

namespace nnc::ops {
namespace {

Status constant(KernelContext& ctx) {
  const Node& node = ctx.node();
  if (const Tensor* t = ctx.attrTensor("value")) {
    ctx.setOutput(0, *t);
    return Status::ok();
  }
  if (const Attribute* a = node.attr("value_float")) {
    ctx.setOutput(0, Tensor::fromValues<float>(DType::kFloat, {}, {a->f}));
  } else if (const Attribute* a = node.attr("value_floats")) {
    ctx.setOutput(0, Tensor::fromValues<float>(DType::kFloat, {static_cast<int64_t>(a->floats.size())}, a->floats));
  } else if (const Attribute* a = node.attr("value_int")) {
    ctx.setOutput(0, Tensor::fromValues<int64_t>(DType::kInt64, {}, {a->i}));
  } else if (const Attribute* a = node.attr("value_ints")) {
    ctx.setOutput(0, Tensor::fromValues<int64_t>(DType::kInt64, {static_cast<int64_t>(a->ints.size())}, a->ints));
  } else if (const Attribute* a = node.attr("value_string")) {
    Tensor t;
    t.dtype = DType::kString;
    t.strings = {a->s};
    ctx.setOutput(0, std::move(t));
  } else if (const Attribute* a = node.attr("value_strings")) {
    Tensor t;
    t.dtype = DType::kString;
    t.shape = {static_cast<int64_t>(a->strings.size())};
    t.strings = a->strings;
    ctx.setOutput(0, std::move(t));
  } else {
    return ctx.unsupportedHere("Constant without a supported value attribute (sparse_value is not supported)");
  }
  return Status::ok();
}

Status identity(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  ctx.setOutput(0, *x);  // shares the buffer: tensors are immutable
  return Status::ok();
}

}  // namespace

void registerConstantOps(OpRegistry& registry) {
  registry.add({"", "Constant", 1, 1000, constant, true});
  registry.add({"", "Identity", 1, 1000, identity, true});
}

}  // namespace nnc::ops

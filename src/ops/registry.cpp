// The list of op families: each src/ops/<family>.cpp registers its kernels here. One line per
// family keeps the registry a plain list (see docs/architecture.md).
#include "nncompress/runtime/kernel.h"

namespace nnc {
namespace ops {
void registerConstantOps(OpRegistry& registry);
void registerElementwiseOps(OpRegistry& registry);
void registerShapeOps(OpRegistry& registry);
}  // namespace ops

const OpRegistry& defaultRegistry() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    ops::registerConstantOps(r);
    ops::registerElementwiseOps(r);
    ops::registerShapeOps(r);
    return r;
  }();
  return registry;
}

}  // namespace nnc

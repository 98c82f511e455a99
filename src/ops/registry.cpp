// The list of op families: each src/ops/<family>.cpp registers its kernels here. One line per
// family keeps the registry a plain list (see docs/architecture.md).
#include "nncompress/runtime/kernel.h"

namespace nnc {
namespace ops {
void registerConstantOps(OpRegistry& registry);
void registerElementwiseOps(OpRegistry& registry);
void registerQuantOps(OpRegistry& registry);
void registerNnOps(OpRegistry& registry);
void registerRnnOps(OpRegistry& registry);
void registerLinalgOps(OpRegistry& registry);
void registerShapeOps(OpRegistry& registry);
}  // namespace ops

const OpRegistry& defaultRegistry() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    ops::registerConstantOps(r);
    ops::registerElementwiseOps(r);
    ops::registerQuantOps(r);
    ops::registerNnOps(r);
    ops::registerRnnOps(r);
    ops::registerLinalgOps(r);
    ops::registerShapeOps(r);
    return r;
  }();
  return registry;
}

}  // namespace nnc

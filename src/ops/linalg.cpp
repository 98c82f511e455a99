// Registers every kernel of the linalg family (see linalg.h for which file holds what).
#include "linalg.h"

namespace nnc::ops {

void registerLinalgOps(OpRegistry& registry) {
  linalg::registerMatmulOps(registry);
  linalg::registerSoftmaxOps(registry);
  linalg::registerReduceOps(registry);
  linalg::registerArgTopKOps(registry);
  linalg::registerCumSumOps(registry);
  linalg::registerEinsumOps(registry);
  linalg::registerDetOps(registry);
}

}  // namespace nnc::ops

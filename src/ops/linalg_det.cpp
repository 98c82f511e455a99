// Det (opsets 11-21): determinant of each square matrix in the last two dims (Eigen's partial-
// pivot LU, the method ONNX Runtime also uses).
#include <Eigen/LU>

#include "linalg.h"
#include "op_util.h"

namespace nnc::ops::linalg {
namespace {

Status det(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  const size_t rank = x->shape.size();
  if (rank < 2 || x->shape[rank - 1] != x->shape[rank - 2]) return ctx.fail("Det needs [..., M, M] input, got " + shapeToString(x->shape));
  const int64_t m = x->shape[rank - 1];
  std::vector<int64_t> out_shape(x->shape.begin(), x->shape.end() - 2);
  const int64_t count = product(out_shape);
  Tensor out;
  bool handled = dispatchFloat(x->dtype, [&](auto zero) {
    using T = decltype(zero);
    using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    T* y = nullptr;
    out = allocate<T>(x->dtype, out_shape, &y);
    const T* p = x->dataAs<T>();
    for (int64_t i = 0; i < count; ++i)
      y[i] = m == 0 ? T(1) : Eigen::Map<const Matrix>(p + i * m * m, m, m).determinant();
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(x->dtype) + " is not supported");
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

}  // namespace

void registerDetOps(OpRegistry& registry) { registry.add({"", "Det", 11, 1000, det}); }

}  // namespace nnc::ops::linalg

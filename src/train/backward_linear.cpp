// Backward of the linear ops: Gemm (alpha * A' B' + beta * C) and MatMul (batched, with one
// side possibly shared across the batch).
#include <Eigen/Core>

#include "nncompress/train/backward.h"

namespace nnc::train {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMatrix>;
using Map = Eigen::Map<RowMatrix>;

}  // namespace

Status gemmBackward(BackwardContext& ctx) {
  const Tensor& a = *ctx.inputs[0];
  const Tensor& b = *ctx.inputs[1];
  if (a.shape.size() != 2 || b.shape.size() != 2) return ctx.fail("A and B must be 2-D");
  const bool trans_a = ctx.node.attrInt("transA", 0) != 0;
  const bool trans_b = ctx.node.attrInt("transB", 0) != 0;
  const float alpha = ctx.node.attrFloat("alpha", 1.0f);
  const float beta = ctx.node.attrFloat("beta", 1.0f);
  const int64_t m = trans_a ? a.shape[1] : a.shape[0];
  const int64_t k = trans_a ? a.shape[0] : a.shape[1];
  const int64_t n = trans_b ? b.shape[0] : b.shape[1];
  const Grad& g = *ctx.output_grads[0];
  ConstMap gm(g.data.data(), m, n);
  ConstMap am(ctx.in(0), a.shape[0], a.shape[1]);
  ConstMap bm(ctx.in(1), b.shape[0], b.shape[1]);
  if (ctx.want(0)) {
    Grad da = Grad::zeros(a.shape);
    Map dam(da.data.data(), a.shape[0], a.shape[1]);
    // dA' = alpha G B'^T; A = A'^T when transA.
    if (!trans_a && !trans_b) dam.noalias() = alpha * gm * bm.transpose();
    if (!trans_a && trans_b) dam.noalias() = alpha * gm * bm;
    if (trans_a && !trans_b) dam.noalias() = alpha * bm * gm.transpose();
    if (trans_a && trans_b) dam.noalias() = alpha * bm.transpose() * gm.transpose();
    ctx.setGrad(0, std::move(da));
  }
  if (ctx.want(1)) {
    Grad db = Grad::zeros(b.shape);
    Map dbm(db.data.data(), b.shape[0], b.shape[1]);
    // dB' = alpha A'^T G; B = B'^T when transB.
    if (!trans_a && !trans_b) dbm.noalias() = alpha * am.transpose() * gm;
    if (trans_a && !trans_b) dbm.noalias() = alpha * am * gm;
    if (!trans_a && trans_b) dbm.noalias() = alpha * gm.transpose() * am;
    if (trans_a && trans_b) dbm.noalias() = alpha * gm.transpose() * am.transpose();
    ctx.setGrad(1, std::move(db));
  }
  if (ctx.want(2) && ctx.inputs.size() > 2 && ctx.inputs[2] != nullptr) {
    Grad dc = reduceToShape(g.data, {m, n}, ctx.inputs[2]->shape);
    for (float& v : dc.data) v *= beta;
    ctx.setGrad(2, std::move(dc));
  }
  (void)k;
  return Status::ok();
}

// A [..., M, K] x B [..., K, N]: the batch dims must be equal, or one side is 2-D (shared by
// every batch, its gradient summed over them). 1-D operands are not supported yet.
Status matMulBackward(BackwardContext& ctx) {
  const Tensor& a = *ctx.inputs[0];
  const Tensor& b = *ctx.inputs[1];
  if (a.shape.size() < 2 || b.shape.size() < 2) return ctx.fail("1-D operands are not supported by the backward yet");
  const std::vector<int64_t> a_batch(a.shape.begin(), a.shape.end() - 2);
  const std::vector<int64_t> b_batch(b.shape.begin(), b.shape.end() - 2);
  if (!a_batch.empty() && !b_batch.empty() && a_batch != b_batch)
    return ctx.fail("batch dimensions must be equal (or one operand 2-D) for the backward");
  const int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back(), n = b.shape.back();
  int64_t batches = 1;
  for (int64_t d : a_batch.empty() ? b_batch : a_batch) batches *= d;
  const int64_t a_step = a_batch.empty() ? 0 : m * k, b_step = b_batch.empty() ? 0 : k * n;
  const Grad& g = *ctx.output_grads[0];
  Grad da = Grad::zeros(a.shape), db = Grad::zeros(b.shape);
  for (int64_t i = 0; i < batches; ++i) {
    ConstMap gm(g.data.data() + i * m * n, m, n);
    if (ctx.want(0)) {
      Map dam(da.data.data() + i * a_step, m, k);
      dam.noalias() += gm * ConstMap(ctx.in(1) + i * b_step, k, n).transpose();
    }
    if (ctx.want(1)) {
      Map dbm(db.data.data() + i * b_step, k, n);
      dbm.noalias() += ConstMap(ctx.in(0) + i * a_step, m, k).transpose() * gm;
    }
  }
  if (ctx.want(0)) ctx.setGrad(0, std::move(da));
  if (ctx.want(1)) ctx.setGrad(1, std::move(db));
  return Status::ok();
}

}  // namespace nnc::train

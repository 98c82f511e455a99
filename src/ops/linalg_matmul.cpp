// MatMul (opsets 1-21: numpy matmul, batched with broadcasting, 1-D operands) and Gemm (opsets
// 1-21: transA/transB, alpha/beta, C broadcast unidirectionally to M x N, C optional from 11).
#include "linalg.h"
#include "linalg_gemm.h"

namespace nnc::ops::linalg {
namespace {

template <typename T>
void matmulTyped(KernelContext& ctx, const Tensor& A, const Tensor& B, const std::vector<int64_t>& batch, int64_t M, int64_t N,
                 int64_t K, T* y) {
  const T* a = A.dataAs<T>();
  const T* b = B.dataAs<T>();
  const int64_t count = product(batch);
  if (count * M * N == 0) return;
  const std::vector<int64_t> batch_a(A.shape.begin(), A.shape.end() - std::min<size_t>(A.shape.size(), 2));
  const std::vector<int64_t> batch_b(B.shape.begin(), B.shape.end() - std::min<size_t>(B.shape.size(), 2));
  if (product(batch_b) == 1 && product(batch_a) == count) {
    // [..., M, K] @ [K, N]: the batch folds into the rows of one big product (transformer Linear).
    gemm<T>(false, false, count * M, N, K, T(1), a, b, T(0), y, ctx.threads());
    return;
  }
  std::vector<int64_t> a_off(static_cast<size_t>(count)), b_off(static_cast<size_t>(count));
  std::array<std::vector<int64_t>, 2> strides{broadcastStrides(batch_a, batch), broadcastStrides(batch_b, batch)};
  forEachBroadcast<2>(batch, strides, [&](int64_t i, const std::array<int64_t, 2>& off) {
    a_off[static_cast<size_t>(i)] = off[0] * M * K;
    b_off[static_cast<size_t>(i)] = off[1] * K * N;
  });
  batchedGemm<T>(false, false, M, N, K, a, a_off, b, b_off, y, ctx.threads());
}

Status matmul(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b, ctx.requiredInput(1));
  if (a->dtype != b->dtype) return ctx.fail("inputs have different types " + dtypeName(a->dtype) + " and " + dtypeName(b->dtype));
  if (a->shape.empty() || b->shape.empty()) return ctx.fail("MatMul inputs must have rank >= 1");
  // 1-D operands: A [K] is [1, K], B [K] is [K, 1]; the added dim is dropped from the output.
  Tensor A = a->shape.size() == 1 ? reshaped(*a, {1, a->shape[0]}) : *a;
  Tensor B = b->shape.size() == 1 ? reshaped(*b, {b->shape[0], 1}) : *b;
  const size_t ra = A.shape.size(), rb = B.shape.size();
  const int64_t M = A.shape[ra - 2], K = A.shape[ra - 1], N = B.shape[rb - 1];
  if (B.shape[rb - 2] != K)
    return ctx.fail("MatMul shapes " + shapeToString(a->shape) + " and " + shapeToString(b->shape) + " do not match");
  auto batch = broadcastShapes({std::vector<int64_t>(A.shape.begin(), A.shape.end() - 2),
                                std::vector<int64_t>(B.shape.begin(), B.shape.end() - 2)});
  if (!batch) return batch.status().withContext(ctx.node().describe());
  std::vector<int64_t> out_shape = *batch;
  if (a->shape.size() > 1) out_shape.push_back(M);
  if (b->shape.size() > 1) out_shape.push_back(N);
  Tensor out;
  bool handled = dispatchGemmTypes(a->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    out = allocate<T>(a->dtype, out_shape, &y);
    matmulTyped<T>(ctx, A, B, *batch, M, N, K, y);
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(a->dtype) + " is not supported");
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

Status gemmOp(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b, ctx.requiredInput(1));
  const Tensor* c = ctx.input(2);
  if (a->dtype != b->dtype || (c && c->dtype != a->dtype)) return ctx.fail("inputs have different types");
  if (a->shape.size() != 2 || b->shape.size() != 2) return ctx.fail("Gemm inputs A and B must be 2-D");
  const bool ta = ctx.attrInt("transA", 0) != 0, tb = ctx.attrInt("transB", 0) != 0;
  const int64_t M = ta ? a->shape[1] : a->shape[0], K = ta ? a->shape[0] : a->shape[1];
  const int64_t Kb = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
  if (K != Kb) return ctx.fail("Gemm shapes " + shapeToString(a->shape) + " and " + shapeToString(b->shape) + " do not match");
  const float alpha = ctx.attrFloat("alpha", 1.0f), beta = ctx.attrFloat("beta", 1.0f);
  // C broadcasts unidirectionally to [M, N]: each of its (right-aligned) dims is 1 or equal.
  int64_t c_rows = 1, c_cols = 1;
  if (c) {
    const auto& s = c->shape;
    if (s.size() > 2) return ctx.fail("Gemm C must have rank <= 2");
    if (s.size() >= 1) c_cols = s.back();
    if (s.size() == 2) c_rows = s[0];
    if ((c_cols != 1 && c_cols != N) || (c_rows != 1 && c_rows != M))
      return ctx.fail("Gemm C of shape " + shapeToString(s) + " does not broadcast to [" + std::to_string(M) + "," + std::to_string(N) + "]");
  }
  Tensor out;
  bool handled = dispatchGemmTypes(a->dtype, [&](auto zero) {
    using T = decltype(zero);
    T* y = nullptr;
    out = allocate<T>(a->dtype, {M, N}, &y);
    const bool use_c = c != nullptr && beta != 0.0f && M * N > 0;
    if (use_c) {
      const T* pc = c->dataAs<T>();
      const T bt = static_cast<T>(beta);
      for (int64_t i = 0; i < M; ++i) {
        const T* row = pc + (c_rows == 1 ? 0 : i * c_cols);
        T* yr = y + i * N;
        if (c_cols == 1)
          for (int64_t j = 0; j < N; ++j) yr[j] = bt * row[0];
        else
          for (int64_t j = 0; j < N; ++j) yr[j] = bt * row[j];
      }
    }
    gemm<T>(ta, tb, M, N, K, static_cast<T>(alpha), a->dataAs<T>(), b->dataAs<T>(), use_c ? T(1) : T(0), y, ctx.threads());
  });
  if (!handled) return ctx.unsupportedHere("type " + dtypeName(a->dtype) + " is not supported");
  ctx.setOutput(0, std::move(out));
  return Status::ok();
}

}  // namespace

void registerMatmulOps(OpRegistry& registry) {
  registry.add({"", "MatMul", 1, 1000, matmul});
  // Gemm 1-6 had a `broadcast` attribute (0: C must already be M x N); 7+ always broadcasts C
  // unidirectionally. Broadcasting whenever the shapes allow covers both forms.
  registry.add({"", "Gemm", 1, 1000, gemmOp});
}

}  // namespace nnc::ops::linalg

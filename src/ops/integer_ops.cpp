// MatMulInteger and ConvInteger (opset 10): 8-bit operands, int32 output,
// through the integer GEMM (qgemm.h). Also the shared drivers integerMatMul /
// integerConv (quant_util.h) that QLinearMatMul / QLinearConv requantize. Conv
// is im2col (padding with the input's zero point, so padded taps contribute 0
// after the zero-point subtraction) + one GEMM per image and group: W_g [M/g,
// C/g*k] x col [C/g*k, out spatial], with per-output-channel weight zero points
// as per-row zero points of the GEMM's A.
#include <algorithm>

#include "qgemm.h"
#include "quant_util.h"
#include "parallel.h"

namespace nnc::ops {
namespace {

bool is8Bit(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

}  // namespace

Expected<Tensor> integerMatMul(const KernelContext& ctx, const Tensor& a, const Tensor& b,
                               const std::vector<int32_t>& a_zp, const std::vector<int32_t>& b_zp) {
  if (!is8Bit(a.dtype) || !is8Bit(b.dtype))
    return unsupported("integer MatMul of " + dtypeName(a.dtype) + " by " + dtypeName(b.dtype) + " is not supported");
  if (a.shape.empty() || b.shape.empty()) return invalidModel("MatMul inputs must not be scalars");
  std::vector<int64_t> as = a.shape, bs = b.shape;
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  if (bs[bs.size() - 2] != K)
    return invalidModel("MatMul shapes " + shapeToString(a.shape) + " and " + shapeToString(b.shape) + " do not match");
  const std::vector<int64_t> a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  auto batch = broadcastShapes({a_batch, b_batch});
  if (!batch) return batch.status();
  if (a_zp.size() != 1 && static_cast<int64_t>(a_zp.size()) != M)
    return invalidModel("a_zero_point must have 1 or M=" + std::to_string(M) + " elements");
  if (b_zp.size() != 1 && static_cast<int64_t>(b_zp.size()) != N)
    return invalidModel("b_zero_point must have 1 or N=" + std::to_string(N) + " elements");

  std::vector<int64_t> out_shape = *batch;
  if (!a_vec) out_shape.push_back(M);
  if (!b_vec) out_shape.push_back(N);
  int32_t* y = nullptr;
  Tensor out = allocate<int32_t>(DType::kInt32, out_shape, &y);
  const int64_t batches = product(*batch);

  QGemmArgs g;
  g.N = N;
  g.K = K;
  g.lda = K;
  g.ldb = N;
  g.ldc = N;
  g.a_signed = a.dtype == DType::kInt8;
  g.b_signed = b.dtype == DType::kInt8;
  g.b_zp = b_zp.data();
  g.b_zp_per_col = b_zp.size() > 1;
  std::vector<int32_t> a_zp_rows;
  if (b_batch.empty() || product(b_batch) == 1) {
    // One weight matrix: fold A's batch into M (one big GEMM).
    const int64_t rows = product(a_batch) * M;
    g.M = rows;
    g.A = a.bytes();
    g.B = b.bytes();
    g.C = y;
    if (a_zp.size() > 1) {
      a_zp_rows.resize(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) a_zp_rows[static_cast<size_t>(r)] = a_zp[static_cast<size_t>(r % M)];
      g.a_zp = a_zp_rows.data();
      g.a_zp_per_row = true;
    } else {
      g.a_zp = a_zp.data();
    }
    if (rows * N > 0) qgemm(g, ctx.threads());  // rows == batches * M: B has no real batch
    return out;
  }
  g.M = M;
  g.a_zp = a_zp.data();
  g.a_zp_per_row = a_zp.size() > 1;
  const auto a_strides = broadcastStrides(a_batch, *batch), b_strides = broadcastStrides(b_batch, *batch);
  std::vector<int64_t> index(batch->size(), 0);
  for (int64_t i = 0; i < batches; ++i) {
    int64_t ao = 0, bo = 0;
    for (size_t d = 0; d < index.size(); ++d) {
      ao += index[d] * a_strides[d];
      bo += index[d] * b_strides[d];
    }
    g.A = a.bytes() + ao * M * K;
    g.B = b.bytes() + bo * K * N;
    g.C = y + i * M * N;
    qgemm(g, ctx.threads());
    for (size_t d = index.size(); d-- > 0;)
      if (++index[d] < (*batch)[d])
        break;
      else
        index[d] = 0;
  }
  return out;
}

Expected<ConvShape> integerConvShape(const KernelContext& ctx, const Tensor& x, const Tensor& w,
                              std::vector<int64_t>* out_spatial) {
  const size_t sp = x.shape.size() - 2;
  std::vector<int64_t> kernel = ctx.attrInts("kernel_shape");
  if (kernel.empty()) kernel.assign(w.shape.begin() + 2, w.shape.end());
  std::vector<int64_t> strides = ctx.attrInts("strides"), dil = ctx.attrInts("dilations"), pads = ctx.attrInts("pads");
  if (strides.empty()) strides.assign(sp, 1);
  if (dil.empty()) dil.assign(sp, 1);
  if (pads.empty()) pads.assign(2 * sp, 0);
  if (kernel.size() != sp || strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp)
    return invalidModel("kernel_shape/strides/dilations/pads do not match the input rank");
  const std::string auto_pad = ctx.attrString("auto_pad", "NOTSET");
  ConvShape s;
  const size_t off = 3 - sp;
  for (size_t d = 0; d < sp; ++d) {
    const int64_t in = x.shape[2 + d], k = kernel[d], st = strides[d], dl = dil[d];
    if (k < 1 || st < 1 || dl < 1) return invalidModel("kernel, stride and dilation must be positive");
    if (w.shape[2 + d] != k) return invalidModel("kernel_shape does not match the weight shape");
    const int64_t span = (k - 1) * dl + 1;
    int64_t begin = pads[d], end = pads[d + sp], out = 0;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out = (in + st - 1) / st;
      const int64_t total = std::max<int64_t>(0, (out - 1) * st + span - in);
      begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    } else if (auto_pad == "VALID") {
      begin = end = 0;
    } else if (auto_pad != "NOTSET") {
      return invalidModel("unknown auto_pad " + auto_pad);
    }
    if (begin < 0 || end < 0) return invalidModel("negative pads are not supported");
    if (out == 0) out = (in + begin + end - span) / st + 1;
    if (in + begin + end < span) out = 0;
    s.in[off + d] = in;
    s.k[off + d] = k;
    s.stride[off + d] = st;
    s.dil[off + d] = dl;
    s.pad[off + d] = begin;
    s.out[off + d] = out;
    out_spatial->push_back(out);
  }
  return s;
}

// col[(c, kz, ky, kx)][(oz, oy, ox)] for `channels` channels of one image;
// `fill` outside.
void im2colBytes(const uint8_t* x, int64_t channels, const ConvShape& s, uint8_t fill, uint8_t* col, int threads) {
  const int64_t ks = s.kSize(), os = s.outSize(), in_plane = s.in[0] * s.in[1] * s.in[2];
  const int64_t rows = channels * ks;
#pragma omp parallel for num_threads(threads) if (rows * os > kMinParallelWork)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r / ks, kk = r % ks;
    const int64_t kz = kk / (s.k[1] * s.k[2]), ky = (kk / s.k[2]) % s.k[1], kx = kk % s.k[2];
    const uint8_t* xc = x + c * in_plane;
    uint8_t* dst = col + r * os;
    for (int64_t oz = 0; oz < s.out[0]; ++oz) {
      const int64_t iz = oz * s.stride[0] - s.pad[0] + kz * s.dil[0];
      for (int64_t oy = 0; oy < s.out[1]; ++oy) {
        const int64_t iy = oy * s.stride[1] - s.pad[1] + ky * s.dil[1];
        uint8_t* d = dst + (oz * s.out[1] + oy) * s.out[2];
        if (iz < 0 || iz >= s.in[0] || iy < 0 || iy >= s.in[1]) {
          std::memset(d, fill, static_cast<size_t>(s.out[2]));
          continue;
        }
        const uint8_t* src = xc + (iz * s.in[1] + iy) * s.in[2];
        const int64_t x0 = kx * s.dil[2] - s.pad[2];
        if (s.stride[2] == 1) {
          // Valid ox: 0 <= ox + x0 < W.
          const int64_t lo = std::clamp<int64_t>(-x0, 0, s.out[2]),
                        hi = std::clamp<int64_t>(s.in[2] - x0, lo, s.out[2]);
          std::memset(d, fill, static_cast<size_t>(lo));
          std::memcpy(d + lo, src + lo + x0, static_cast<size_t>(hi - lo));
          std::memset(d + hi, fill, static_cast<size_t>(s.out[2] - hi));
        } else {
          for (int64_t ox = 0; ox < s.out[2]; ++ox) {
            const int64_t ix = ox * s.stride[2] + x0;
            d[ox] = (ix >= 0 && ix < s.in[2]) ? src[ix] : fill;
          }
        }
      }
    }
  }
}

Expected<Tensor> integerConv(const KernelContext& ctx, const Tensor& x, const Tensor& w, int32_t x_zp,
                             const std::vector<int32_t>& w_zp) {
  if (!is8Bit(x.dtype) || !is8Bit(w.dtype))
    return unsupported("integer Conv of " + dtypeName(x.dtype) + " by " + dtypeName(w.dtype) + " is not supported");
  const size_t rank = x.shape.size();
  if (rank < 3 || rank > 5) return unsupported("Conv on inputs of rank " + std::to_string(rank) + " is not supported");
  if (w.shape.size() != rank) return invalidModel("weight rank differs from input rank");
  const int64_t group = ctx.attrInt("group", 1);
  const int64_t batch = x.shape[0], C = x.shape[1], M = w.shape[0];
  if (group < 1 || C % group != 0 || M % group != 0 || w.shape[1] * group != C)
    return invalidModel("channels " + std::to_string(C) + " / weights " + shapeToString(w.shape) +
                        " do not fit group " + std::to_string(group));
  if (w_zp.size() != 1 && static_cast<int64_t>(w_zp.size()) != M)
    return invalidModel("w_zero_point must have 1 or M=" + std::to_string(M) + " elements");
  std::vector<int64_t> out_spatial;
  auto s = integerConvShape(ctx, x, w, &out_spatial);
  if (!s) return s.status();
  std::vector<int64_t> out_shape{batch, M};
  out_shape.insert(out_shape.end(), out_spatial.begin(), out_spatial.end());
  int32_t* y = nullptr;
  Tensor out = allocate<int32_t>(DType::kInt32, out_shape, &y);
  const int64_t Cg = C / group, Mg = M / group, Kg = Cg * s->kSize(), Nsp = s->outSize();
  const int64_t in_plane = product(x.shape, 2);
  if (Nsp == 0 || M == 0 || batch == 0) return out;
  const bool direct = s->pointwise();
  std::vector<uint8_t> col(direct ? 0 : static_cast<size_t>(Kg * Nsp));
  const uint8_t fill = static_cast<uint8_t>(x_zp);  // the zero point's byte, int8 or uint8
  QGemmArgs g;
  g.M = Mg;
  g.N = Nsp;
  g.K = Kg;
  g.lda = Kg;
  g.ldb = Nsp;
  g.ldc = Nsp;
  g.a_signed = w.dtype == DType::kInt8;
  g.b_signed = x.dtype == DType::kInt8;
  g.a_zp_per_row = w_zp.size() > 1;
  g.b_zp = &x_zp;
  // One job per (image, group). Several jobs: one per thread at a time, each GEMM on one thread
  // (one fork/join per Conv instead of three barriers per GEMM); a single job: a threaded GEMM.
  const int64_t jobs = batch * group;
  const int threads = jobs > 1 && Mg * Kg * Nsp * jobs > 4 * kMinParallelWork ? ctx.threads() : 1;
  const bool per_job = jobs > 1 && threads > 1;
#pragma omp parallel num_threads(threads) if (per_job)
  {
    std::vector<uint8_t> local_col(per_job && !direct ? col.size() : 0);
    uint8_t* my_col = per_job ? local_col.data() : col.data();
#pragma omp for schedule(dynamic)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t n = job / group, gr = job % group;
      QGemmArgs a = g;
      const uint8_t* xs = x.bytes() + (n * C + gr * Cg) * in_plane;
      if (direct) {
        a.B = xs;
      } else {
        im2colBytes(xs, Cg, *s, fill, my_col, per_job ? 1 : ctx.threads());
        a.B = my_col;
      }
      a.A = w.bytes() + gr * Mg * Kg;
      a.a_zp = w_zp.data() + (a.a_zp_per_row ? gr * Mg : 0);
      a.C = y + (n * M + gr * Mg) * Nsp;
      qgemm(a, per_job ? 1 : ctx.threads());
    }
  }
  return out;
}

namespace {

// A zero-point input: absent -> {0}; must have the type of its data input.
Expected<std::vector<int32_t>> zeroPoints(const Tensor* zp, const Tensor& data, const std::string& what) {
  if (!zp) return std::vector<int32_t>{0};
  if (zp->dtype != data.dtype)
    return invalidModel(what + " type " + dtypeName(zp->dtype) + " differs from its input's");
  if (zp->elementCount() == 0) return invalidModel(what + " is empty");
  return intElements(*zp);
}

Status matMulInteger(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* a, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* b, ctx.requiredInput(1));
  auto a_zp = zeroPoints(ctx.input(2), *a, "a_zero_point");
  if (!a_zp) return a_zp.status().withContext(ctx.node().describe());
  auto b_zp = zeroPoints(ctx.input(3), *b, "b_zero_point");
  if (!b_zp) return b_zp.status().withContext(ctx.node().describe());
  auto out = integerMatMul(ctx, *a, *b, *a_zp, *b_zp);
  if (!out) return out.status().withContext(ctx.node().describe());
  ctx.setOutput(0, std::move(out).value());
  return Status::ok();
}

Status convInteger(KernelContext& ctx) {
  NNC_ASSIGN_OR_RETURN(const Tensor* x, ctx.requiredInput(0));
  NNC_ASSIGN_OR_RETURN(const Tensor* w, ctx.requiredInput(1));
  auto x_zp = zeroPoints(ctx.input(2), *x, "x_zero_point");
  if (!x_zp) return x_zp.status().withContext(ctx.node().describe());
  if (x_zp->size() != 1) return ctx.fail("x_zero_point must be a scalar");
  auto w_zp = zeroPoints(ctx.input(3), *w, "w_zero_point");
  if (!w_zp) return w_zp.status().withContext(ctx.node().describe());
  auto out = integerConv(ctx, *x, *w, (*x_zp)[0], *w_zp);
  if (!out) return out.status().withContext(ctx.node().describe());
  ctx.setOutput(0, std::move(out).value());
  return Status::ok();
}

}  // namespace

void registerIntegerOps(OpRegistry& registry) {
  registry.add({"", "MatMulInteger", 10, 1000, matMulInteger});
  registry.add({"", "ConvInteger", 10, 1000, convInteger});
}

}  // namespace nnc::ops

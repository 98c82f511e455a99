// Integer GEMMs against Eigen's float GEMM of the same shape, on 1 and 2 threads:
//   - qgemm.h paths (u8 x s8 -> s32; operands packed per call; avx2 = 16-bit vpmaddwd);
//   - qgemm_u8s8.h (the fused QDQ kernels: vpmaddubsw on 7-bit weights packed once, requantized
//     to uint8 in the output step): "u8s8-rows" (MatMul/Gemm: A rows x weight panels) and
//     "u8s8-conv" (Conv: weight tiles x im2col columns, the [K, M] matrix packed per call).
// Prints GOPS (2*M*N*K per second) and the int8/float ratio. Usage: qgemm_bench [repeats]
#include <omp.h>

#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "ops/qgemm.h"
#include "ops/qgemm_u8s8.h"

namespace {

template <typename F>
double bestSeconds(int repeats, F&& fn) {
  fn();  // warm up
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 20;
  using namespace nnc::ops;
  using nnc::Tensor;
  std::printf("best qgemm path: %s\n", qgemmPathName(bestQGemmPath()));
  struct Shape {
    int64_t M, N, K;
  } shapes[] = {{256, 256, 1152}, {3136, 64, 576}};
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::printf("%-16s %-8s %-11s %10s %10s %8s\n", "MxNxK", "threads", "path", "int8 GOPS", "f32 GOPS", "ratio");
  for (const Shape& s : shapes) {
    std::vector<uint8_t> A(s.M * s.K), B(s.K * s.N);
    for (auto& v : A) v = static_cast<uint8_t>(byte(rng));
    for (auto& v : B) v = static_cast<uint8_t>(byte(rng));
    std::vector<int32_t> C(s.M * s.N);
    int32_t za = 128, zb = 0;
    QGemmArgs g;
    g.M = s.M;
    g.N = s.N;
    g.K = s.K;
    g.A = A.data();
    g.lda = s.K;
    g.B = B.data();
    g.ldb = s.N;
    g.b_signed = true;
    g.C = C.data();
    g.ldc = s.N;
    g.a_zp = &za;
    g.b_zp = &zb;
    using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Mat fa = Mat::Random(s.M, s.K), fb = Mat::Random(s.K, s.N), fc(s.M, s.N);
    const double ops = 2.0 * s.M * s.N * s.K;
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      Eigen::setNbThreads(threads);
      const double tf = bestSeconds(repeats, [&] { fc.noalias() = fa * fb; });
      for (QGemmPath path : {QGemmPath::kAvx512Vnni, QGemmPath::kAvx2, QGemmPath::kReference}) {
        if (!qgemmPathSupported(path)) continue;
        const double ti = bestSeconds(path == QGemmPath::kReference ? 3 : repeats, [&] { qgemm(g, threads, path); });
        char shape[64];
        std::snprintf(shape, sizeof shape, "%ldx%ldx%ld", long(s.M), long(s.N), long(s.K));
        std::printf("%-16s %-8d %-11s %10.1f %10.1f %8.2f\n", shape, threads, qgemmPathName(path), ops / ti * 1e-9,
                    ops / tf * 1e-9, tf / ti);
      }
      if (!u8s8Supported()) continue;
      // 7-bit weights (what `nncompress quantize` writes), packed once as a Session does.
      std::vector<int8_t> w7(B.size());
      for (size_t i = 0; i < B.size(); ++i) w7[i] = static_cast<int8_t>(static_cast<int>(B[i] % 129) - 64);
      std::vector<int32_t> offset(static_cast<size_t>(std::max(s.M, s.N)), 5);
      std::vector<float> scale(offset.size(), 0.001f);
      std::vector<uint8_t> y(static_cast<size_t>(s.M * s.N));
      U8S8Output o;
      o.offset = offset.data();
      o.scale = scale.data();
      o.zp = 0;
      o.lo = 0;
      o.hi = 255;
      o.out = y.data();
      char shape[64];
      std::snprintf(shape, sizeof shape, "%ldx%ldx%ld", long(s.M), long(s.N), long(s.K));
      {
        const Tensor packed = packU8S8Weights(w7.data(), s.N, s.K, 1, s.N, WeightRole::kPanel);
        const PackedWeights pw = *viewPackedWeights(packed);
        o.ldo = s.N;
        const double ti = bestSeconds(repeats, [&] { u8s8GemmRows(A.data(), s.M, s.K, false, pw, o, threads); });
        std::printf("%-16s %-8d %-11s %10.1f %10.1f %8.2f\n", shape, threads, "u8s8-rows", ops / ti * 1e-9,
                    ops / tf * 1e-9, tf / ti);
      }
      {
        // Conv orientation: N channels of K weights times the [K, M] column matrix.
        const Tensor packed = packU8S8Weights(w7.data(), s.N, s.K, 1, s.N, WeightRole::kBroadcast);
        const PackedWeights pw = *viewPackedWeights(packed);
        o.ldo = s.M;
        const double ti = bestSeconds(repeats, [&] { u8s8GemmBroadcast(pw, 0, A.data(), s.M, o, threads); });
        std::printf("%-16s %-8d %-11s %10.1f %10.1f %8.2f\n", shape, threads, "u8s8-conv", ops / ti * 1e-9,
                    ops / tf * 1e-9, tf / ti);
      }
    }
  }
  return 0;
}

// Times single Conv nodes through a Session (the kernels the CNN benchmark leans on) and
// prints GFLOP/s (2 * MACs / time) for 1 and 2 threads:
//   conv_bench [ITERATIONS] [CASE-SUBSTRING] [MAX-THREADS]
// Cases: ResNet 3x3 (1x64x56x56 -> 64), MobileNet depthwise 3x3 (1x144x56x56, s1 and s2),
// 1x1 pointwise (1x64x56x56 -> 256), first layer 7x7 s2 (1x3x224x224 -> 64).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "nncompress/runtime/session.h"

namespace {

struct Case {
  const char* name;
  int64_t n, c, h, w, m, k, stride, pad, group;
};

nnc::Tensor randomTensor(const std::vector<int64_t>& shape, uint32_t seed) {
  uint8_t* data = nullptr;
  nnc::Tensor t = nnc::Tensor::zeros(nnc::DType::kFloat, shape, &data);
  float* f = reinterpret_cast<float*>(data);
  for (int64_t i = 0; i < t.elementCount(); ++i) {
    seed = seed * 1664525u + 1013904223u;
    f[i] = static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
  }
  return t;
}

nnc::Attribute ints(const char* name, std::vector<int64_t> v) {
  nnc::Attribute a;
  a.name = name;
  a.type = nnc::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

double cpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// GFLOP/s by wall time; *cpu_gflops by process CPU time (meaningful on a loaded machine, where
// wall time also counts time slices given to other processes).
double run(const Case& cs, int threads, int iterations, double* cpu_gflops) {
  nnc::Model model;
  model.ir_version = 8;
  model.opset_imports = {{"", 17}};
  nnc::Graph& g = *model.graph;
  nnc::Value* x = g.addValue("x");
  x->type.kind = nnc::ValueType::Kind::kTensor;
  x->type.elem_type = static_cast<int32_t>(nnc::DType::kFloat);
  g.addInput(x);
  nnc::Value* w = g.addValue("w");
  g.setInitializer(w, randomTensor({cs.m, cs.c / cs.group, cs.k, cs.k}, 7));
  nnc::Value* b = g.addValue("b");
  g.setInitializer(b, randomTensor({cs.m}, 9));
  nnc::Node* conv = g.appendNode("Conv");
  conv->name = "conv";
  g.appendNodeInput(conv, x);
  g.appendNodeInput(conv, w);
  g.appendNodeInput(conv, b);
  conv->attributes.push_back(ints("strides", {cs.stride, cs.stride}));
  conv->attributes.push_back(ints("pads", {cs.pad, cs.pad, cs.pad, cs.pad}));
  nnc::Attribute group;
  group.name = "group";
  group.type = nnc::AttrType::kInt;
  group.i = cs.group;
  conv->attributes.push_back(std::move(group));
  nnc::Value* y = g.addValue("y");
  g.appendNodeOutput(conv, y);
  g.addOutput(y);
  nnc::SessionOptions options;
  options.threads = threads;
  auto session = nnc::Session::create(model, options);
  if (!session) {
    std::fprintf(stderr, "%s\n", session.status().message().c_str());
    std::exit(1);
  }
  nnc::NamedTensors inputs{{"x", randomTensor({cs.n, cs.c, cs.h, cs.w}, 3)}};
  for (int i = 0; i < 3; ++i) (void)(*session)->run(inputs);  // warm up
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpuSeconds();
  for (int i = 0; i < iterations; ++i) {
    auto out = (*session)->run(inputs);
    if (!out) {
      std::fprintf(stderr, "%s\n", out.status().message().c_str());
      std::exit(1);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iterations;
  const double cpu = (cpuSeconds() - cpu_start) / iterations;
  const int64_t oh = (cs.h + 2 * cs.pad - cs.k) / cs.stride + 1, ow = (cs.w + 2 * cs.pad - cs.k) / cs.stride + 1;
  const double macs = double(cs.n) * cs.m * oh * ow * (cs.c / cs.group) * cs.k * cs.k;
  *cpu_gflops = 2 * macs / cpu / 1e9;
  return 2 * macs / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 20;
  const Case cases[] = {
      {"resnet 3x3 64->64 56x56", 1, 64, 56, 56, 64, 3, 1, 1, 1},
      {"depthwise 3x3 144 56x56", 1, 144, 56, 56, 144, 3, 1, 1, 144},
      {"depthwise 3x3 s2 144 56x56", 1, 144, 56, 56, 144, 3, 2, 1, 144},
      {"pointwise 1x1 64->256 56x56", 1, 64, 56, 56, 256, 1, 1, 0, 1},
      {"stem 7x7 s2 3->64 224x224", 1, 3, 224, 224, 64, 7, 2, 3, 1},
      {"resnet 3x3 256->256 14x14", 1, 256, 14, 14, 256, 3, 1, 1, 1},
      {"grouped 3x3 g32 128 28x28", 1, 128, 28, 28, 128, 3, 1, 1, 32},
  };
  std::printf("GFLOP/s by wall time (and by CPU time: per-core efficiency, robust to a loaded machine)\n");
  std::printf("%-30s %22s %22s\n", "case", "1 thread", "2 threads");
  const int max_threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const std::string filter = argc > 2 ? argv[2] : "";
  for (const Case& c : cases) {
    if (std::string(c.name).find(filter) == std::string::npos) continue;
    double c1 = 0, c2 = 0;
    const double g1 = run(c, 1, iterations, &c1), g2 = max_threads > 1 ? run(c, 2, iterations, &c2) : 0.0;
    std::printf("%-30s %8.1f (cpu %6.1f) %8.1f (cpu %6.1f)\n", c.name, g1, c1, g2, c2);
  }
  return 0;
}

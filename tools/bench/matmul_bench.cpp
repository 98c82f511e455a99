// GFLOP/s of the linalg kernels through a Session (kernel dispatch included), with 1 and 2
// threads: MatMul 1x128x768 @ 768x3072 (a transformer FFN), batched 12x128x64 @ 12x64x128
// (attention scores), the same through Einsum "bhid,bhjd->bhij", and Softmax over 12x128x128.
// Prints wall time and process CPU time (on a shared, loaded machine the CPU-time figure per
// core is the more stable measure of kernel speed).
//   matmul_bench [REPEATS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "nncompress/runtime/session.h"

namespace {

// "x0", "x1", ... (built without operator+ on a temporary, which trips GCC 12's -Wrestrict).
std::string inputName(size_t i) {
  std::string name = std::to_string(i);
  name.insert(name.begin(), 'x');
  return name;
}

nnc::Value* input(nnc::Graph& g, const std::string& name, const std::vector<int64_t>& shape) {
  nnc::Value* v = g.addValue(name);
  v->type.kind = nnc::ValueType::Kind::kTensor;
  v->type.elem_type = static_cast<int32_t>(nnc::DType::kFloat);
  v->type.has_shape = true;
  for (int64_t d : shape) v->type.dims.push_back(nnc::Dim{d, "", ""});
  g.addInput(v);
  return v;
}

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

// A one-node model op(inputs...) with the given input shapes.
nnc::Model oneNode(const std::string& op, const std::vector<std::vector<int64_t>>& shapes, const std::string& equation = "") {
  nnc::Model model;
  model.ir_version = 8;
  model.opset_imports = {{"", 17}};
  nnc::Graph& g = *model.graph;
  nnc::Node* n = g.appendNode(op);
  for (size_t i = 0; i < shapes.size(); ++i) g.appendNodeInput(n, input(g, inputName(i), shapes[i]));
  if (!equation.empty()) {
    nnc::Attribute a;
    a.name = "equation";
    a.type = nnc::AttrType::kString;
    a.s = equation;
    n->attributes.push_back(std::move(a));
  }
  nnc::Value* y = g.addValue("y");
  g.appendNodeOutput(n, y);
  g.addOutput(y);
  return model;
}

struct Timing {
  double wall_ms, cpu_ms;  // medians per run; CPU time (all threads) resists a loaded machine
};

double cpuMs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

Timing timeRuns(const nnc::Model& model, const std::vector<std::vector<int64_t>>& shapes, int threads, int repeats) {
  auto session = nnc::Session::create(model, {threads, nullptr});
  if (!session) {
    std::fprintf(stderr, "%s\n", session.status().message().c_str());
    std::exit(1);
  }
  nnc::NamedTensors inputs;
  for (size_t i = 0; i < shapes.size(); ++i) inputs.emplace_back(inputName(i), randomTensor(shapes[i], 7 + static_cast<uint32_t>(i)));
  std::vector<double> ms, cpu;
  for (int r = 0; r < repeats + 3; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpuMs();
    auto out = (*session)->run(inputs);
    const double c1 = cpuMs();
    auto t1 = std::chrono::steady_clock::now();
    if (!out) {
      std::fprintf(stderr, "%s\n", out.status().message().c_str());
      std::exit(1);
    }
    if (r >= 3) {  // 3 warm-up runs
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      cpu.push_back(c1 - c0);
    }
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  return {ms[ms.size() / 2], cpu[cpu.size() / 2]};
}

void report(const char* what, const nnc::Model& model, const std::vector<std::vector<int64_t>>& shapes, double flops, int repeats) {
  for (int threads : {1, 2}) {
    const Timing t = timeRuns(model, shapes, threads, repeats);
    if (flops > 0)
      std::printf("%-38s threads=%d  wall %8.3f ms %7.2f GFLOP/s | cpu %8.3f ms %7.2f GFLOP/s per core\n", what, threads, t.wall_ms,
                  flops / t.wall_ms / 1e6, t.cpu_ms, flops / t.cpu_ms / 1e6);
    else
      std::printf("%-38s threads=%d  wall %8.3f ms | cpu %8.3f ms\n", what, threads, t.wall_ms, t.cpu_ms);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 20;
  {
    std::vector<std::vector<int64_t>> s{{1, 128, 768}, {768, 3072}};
    report("MatMul 1x128x768 @ 768x3072", oneNode("MatMul", s), s, 2.0 * 128 * 768 * 3072, repeats);
  }
  {
    std::vector<std::vector<int64_t>> s{{12, 128, 64}, {12, 64, 128}};
    report("MatMul 12x128x64 @ 12x64x128", oneNode("MatMul", s), s, 2.0 * 12 * 128 * 64 * 128, repeats);
  }
  {
    std::vector<std::vector<int64_t>> s{{1, 12, 128, 64}, {1, 12, 128, 64}};
    report("Einsum bhid,bhjd->bhij 1x12x128x64", oneNode("Einsum", s, "bhid,bhjd->bhij"), s, 2.0 * 12 * 128 * 64 * 128, repeats);
  }
  {
    std::vector<std::vector<int64_t>> s{{1, 12, 128, 128}};
    report("Softmax 1x12x128x128 (last axis)", oneNode("Softmax", s), s, 0, repeats);
  }
  return 0;
}

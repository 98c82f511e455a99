// Writes a synthetic model of a given size for memory benchmarks: a chain of Add nodes, each
// with a float initializer of `MB / tensors` megabytes, filled with a deterministic pattern.
//   make_large_model OUT.onnx MEGABYTES [TENSORS] [--external-data]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "nncompress/onnx/export.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_large_model OUT.onnx MEGABYTES [TENSORS] [--external-data]\n");
    return 2;
  }
  const std::string out = argv[1];
  const uint64_t megabytes = std::strtoull(argv[2], nullptr, 10);
  const int tensors = argc > 3 && argv[3][0] != '-' ? std::atoi(argv[3]) : 16;
  const bool external = std::string(argv[argc - 1]) == "--external-data";
  const int64_t elements = static_cast<int64_t>(megabytes * (1u << 20) / 4 / static_cast<uint64_t>(tensors));

  nnc::Model model;
  model.ir_version = 8;
  model.opset_imports = {{"", 17}};
  model.producer_name = "nncompress-bench";
  nnc::Graph& g = *model.graph;
  nnc::Value* x = g.addValue("x");
  x->type.kind = nnc::ValueType::Kind::kTensor;
  x->type.elem_type = static_cast<int32_t>(nnc::DType::kFloat);
  x->type.has_shape = true;
  x->type.dims = {nnc::Dim{elements, "", ""}};
  g.addInput(x);
  nnc::Value* current = x;
  uint32_t state = 12345;
  for (int t = 0; t < tensors; ++t) {
    uint8_t* data = nullptr;
    nnc::Tensor w = nnc::Tensor::zeros(nnc::DType::kFloat, {elements}, &data);
    float* f = reinterpret_cast<float*>(data);
    for (int64_t i = 0; i < elements; ++i) {
      state = state * 1664525u + 1013904223u;
      f[i] = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
    }
    nnc::Value* wv = g.addValue("w" + std::to_string(t));
    g.setInitializer(wv, std::move(w));
    nnc::Node* add = g.appendNode("Add");
    add->name = "add" + std::to_string(t);
    g.appendNodeInput(add, current);
    g.appendNodeInput(add, wv);
    nnc::Value* y = g.addValue("y" + std::to_string(t));
    g.appendNodeOutput(add, y);
    current = y;
  }
  current->type = x->type;
  g.addOutput(current);
  nnc::SaveOptions options;
  options.overwrite = true;
  options.external_data = external;
  auto saved = nnc::saveModel(model, out, options);
  if (!saved) {
    std::fprintf(stderr, "make_large_model: %s\n", saved.status().message().c_str());
    return 1;
  }
  std::printf("%s: %llu bytes + %llu external\n", out.c_str(), static_cast<unsigned long long>(saved->model_bytes),
              static_cast<unsigned long long>(saved->external_bytes));
  return 0;
}

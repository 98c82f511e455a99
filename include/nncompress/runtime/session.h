// Session: a model prepared once for execution (execution order, kernels bound, value
// lifetimes), then run many times. Every intermediate is freed after its last use; an
// observer can see each value as it is computed (calibration, per-layer comparison).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nncompress/runtime/kernel.h"

namespace nnc {

struct SessionOptions {
  int threads = 0;                     // 0: all cores
  const OpRegistry* registry = nullptr;  // nullptr: defaultRegistry()
  // Run DequantizeLinear -> Conv/MatMul (-> Relu) -> QuantizeLinear groups as integer kernels
  // (ONNX Runtime's QLinearConv/QLinearMatMul arithmetic). Their intermediate float values are then
  // not computed, so an observer does not see them.
  bool fuse_qdq = true;
};

// Sees every value a run computes in the main graph, in execution order.
using ValueObserver = std::function<void(const Value&, const Tensor&)>;

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Time spent per op type during runs (filled when passed to run()).
struct Profile {
  struct Entry {
    double seconds = 0;
    int64_t calls = 0;
  };
  std::map<std::string, Entry> by_op;  // "Conv", "com.microsoft.QLinearAdd", ...
};

class Session {
 public:
  // Binds a kernel to every node (subgraphs included). Fails with the list of every op the
  // model uses that has no kernel, at once.
  static Expected<std::unique_ptr<Session>> create(const Model& model, SessionOptions options = {});
  ~Session();

  // Runs the graph. `inputs` are matched by name to the graph inputs that are not
  // initializers; outputs come in graph-output order.
  Expected<std::vector<Tensor>> run(const NamedTensors& inputs, const ValueObserver* observer = nullptr,
                                    Profile* profile = nullptr) const;

  const Model& model() const { return model_; }
  // Graph inputs that must be fed (initializers excluded).
  std::vector<const Value*> inputs() const;
  const std::vector<Value*>& outputs() const;

 private:
  struct Plan;
  struct Frame;
  Session(const Model& model, SessionOptions options);
  Status planGraph(const Graph& graph, std::vector<std::string>& missing);
  Expected<std::vector<Tensor>> runPlan(const Plan& plan, std::vector<Tensor> inputs, const Frame* parent,
                                        const ValueObserver* observer, Profile* profile) const;

  const Model& model_;
  SessionOptions options_;
  std::vector<std::unique_ptr<Plan>> plans_;  // plans_[0] is the main graph
  std::vector<std::unique_ptr<Node>> fused_nodes_;  // the kernels' nodes of fused QDQ groups
};

}  // namespace nnc

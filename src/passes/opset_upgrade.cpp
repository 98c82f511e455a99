// See opset_upgrade.h. From opset 13 on, the default-domain changes up to 21 are new ops, new
// types, and new attributes or inputs whose defaults keep the old behaviour, except the ones
// handled here (checked against the ONNX operator changelog).
#include "passes/opset_upgrade.h"

#include <algorithm>
#include <map>
#include <set>

namespace nnc {
namespace {

bool isDefaultDomain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

// Ops whose meaning changed: op -> the opset that changed it.
const std::map<std::string, int64_t>& breakingChanges() {
  static const std::map<std::string, int64_t> kChanges = {
      {"RoiAlign", 16},            // coordinate_transformation_mode default: output_half_pixel -> half_pixel
      {"GridSample", 20},          // mode values renamed (bilinear -> linear, bicubic -> cubic)
      {"DFT", 20},                 // axis attribute -> input, onesided/inverse rules
      {"GroupNormalization", 21},  // scale and bias per channel instead of per group
  };
  return kChanges;
}

// Reductions whose `axes` moved from an attribute to an input in opset 18 (ReduceSum in 13).
const std::set<std::string>& axesToInput18() {
  static const std::set<std::string> kOps = {"ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1",
                                             "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
  return kOps;
}

}  // namespace

Status upgradeOpset(Model& model, int64_t target, int64_t* rewritten) {
  const int64_t from = model.opsetVersion("");
  *rewritten = 0;
  if (from >= target) return Status::ok();
  if (from < 13)
    return unsupported("the model imports opset " + std::to_string(from) + "; raising it to " + std::to_string(target) +
                       " is only done from opset 13 on (too many ops changed before 13)");
  std::string refused;
  forEachNode(*model.graph, [&](Node& node) {
    if (!refused.empty() || !isDefaultDomain(node)) return;
    auto it = breakingChanges().find(node.op_type);
    if (it != breakingChanges().end() && from < it->second && it->second <= target)
      refused = node.describe() + " means something else in opset " + std::to_string(it->second);
  });
  if (!refused.empty())
    return unsupported("cannot raise the opset from " + std::to_string(from) + " to " + std::to_string(target) + ": " + refused);
  if (from < 18 && target >= 18) {
    forEachNode(*model.graph, [&](Node& node) {
      if (!isDefaultDomain(node) || !axesToInput18().count(node.op_type)) return;
      const Attribute* axes = node.attr("axes");
      if (axes == nullptr) return;
      std::vector<int64_t> values = axes->ints;
      Graph& graph = *node.graph();
      Value* v = graph.addValue((node.name.empty() ? node.output(0)->name() : node.name) + "_axes");
      Tensor t = Tensor::fromValues<int64_t>(DType::kInt64, {static_cast<int64_t>(values.size())}, values);
      t.name = v->name();
      graph.setInitializer(v, std::move(t));
      node.attributes.erase(std::remove_if(node.attributes.begin(), node.attributes.end(), [](const Attribute& a) { return a.name == "axes"; }),
                            node.attributes.end());
      while (node.inputs().size() < 1) graph.appendNodeInput(&node, nullptr);
      graph.appendNodeInput(&node, v);
      ++*rewritten;
    });
  }
  for (auto& [domain, version] : model.opset_imports)
    if (domain.empty() || domain == "ai.onnx") version = target;
  // IR version 10 came with opset 21 (int4 types); 9 with 19/20; 8 with 17/18.
  const int64_t ir = target >= 21 ? 10 : target >= 19 ? 9 : target >= 17 ? 8 : 7;
  if (model.ir_version < ir) model.ir_version = ir;
  return Status::ok();
}

}  // namespace nnc

// See opset_upgrade.h. From opset 13 on, the default-domain changes up to 21 are new ops, new
// types, and new attributes or inputs whose defaults keep the old behaviour, except the ones
// handled here (checked against the ONNX operator changelog).
#include "passes/opset_upgrade.h"

#include <limits>

#include "passes/dtype_inference.h"

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

Value* int64Initializer(Graph& graph, const std::string& hint, const std::vector<int64_t>& values) {
  Value* v = graph.addValue(hint);
  Tensor t = Tensor::fromValues<int64_t>(DType::kInt64, {static_cast<int64_t>(values.size())}, values);
  t.name = v->name();
  graph.setInitializer(v, std::move(t));
  return v;
}

void eraseAttr(Node& node, const std::string& name) {
  node.attributes.erase(std::remove_if(node.attributes.begin(), node.attributes.end(), [&](const Attribute& a) { return a.name == name; }),
                        node.attributes.end());
}

std::string baseName(const Node& node) { return node.name.empty() ? node.output(0)->name() : node.name; }

// Opset 9 or 10 -> 11 (what DynamicQuantizeLinear needs). Slice (10) and Clip (11) take their
// attributes as inputs; TopK, Pad, Upsample, Resize and Scatter changed too and are refused.
Status upgradeTo11(Model& model, int64_t from, int64_t* rewritten) {
  static const std::map<std::string, int64_t> kRefused = {{"TopK", 10}, {"Pad", 11}, {"Upsample", 10}, {"Resize", 11}, {"Scatter", 11}};
  std::string refused;
  DTypeMap types(model);
  forEachNode(*model.graph, [&](Node& node) {
    if (!refused.empty() || !isDefaultDomain(node)) return;
    auto it = kRefused.find(node.op_type);
    if (it != kRefused.end() && from < it->second) refused = node.describe() + " changed in opset " + std::to_string(it->second);
    if (node.op_type == "Clip" && types.of(node.input(0)) != DType::kFloat) refused = node.describe() + " is not float32";
  });
  if (!refused.empty()) return unsupported("cannot raise the opset from " + std::to_string(from) + " to 11: " + refused);
  forEachNode(*model.graph, [&](Node& node) {
    if (!isDefaultDomain(node)) return;
    Graph& graph = *node.graph();
    if (node.op_type == "Slice" && from < 10 && node.attr("starts") != nullptr) {
      const std::vector<int64_t> starts = node.attr("starts")->ints, ends = node.attr("ends")->ints;
      const Attribute* axes = node.attr("axes");
      std::vector<int64_t> axis_values;
      if (axes != nullptr) axis_values = axes->ints;
      graph.appendNodeInput(&node, int64Initializer(graph, baseName(node) + "_starts", starts));
      graph.appendNodeInput(&node, int64Initializer(graph, baseName(node) + "_ends", ends));
      if (axes != nullptr) graph.appendNodeInput(&node, int64Initializer(graph, baseName(node) + "_axes", axis_values));
      for (const char* a : {"starts", "ends", "axes"}) eraseAttr(node, a);
      ++*rewritten;
    } else if (node.op_type == "Clip" && (node.attr("min") != nullptr || node.attr("max") != nullptr)) {
      const float lo = node.attrFloat("min", std::numeric_limits<float>::lowest());
      const float hi = node.attrFloat("max", std::numeric_limits<float>::max());
      for (auto [hint, value] : {std::pair<const char*, float>{"_min", lo}, {"_max", hi}}) {
        Value* v = graph.addValue(baseName(node) + hint);
        Tensor t = Tensor::fromValues<float>(DType::kFloat, {}, std::vector<float>{value});
        t.name = v->name();
        graph.setInitializer(v, std::move(t));
        graph.appendNodeInput(&node, v);
      }
      eraseAttr(node, "min");
      eraseAttr(node, "max");
      ++*rewritten;
    }
  });
  return Status::ok();
}

}  // namespace

Status upgradeOpset(Model& model, int64_t target, int64_t* rewritten) {
  const int64_t from = model.opsetVersion("");
  *rewritten = 0;
  if (from >= target) return Status::ok();
  if (target == 11 && (from == 9 || from == 10)) {
    NNC_RETURN_IF_ERROR(upgradeTo11(model, from, rewritten));
    for (auto& [domain, version] : model.opset_imports)
      if (domain.empty() || domain == "ai.onnx") version = target;
    if (model.ir_version < 6) model.ir_version = 6;
    return Status::ok();
  }
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
      Graph& graph = *node.graph();
      Value* v = int64Initializer(graph, baseName(node) + "_axes", axes->ints);
      eraseAttr(node, "axes");
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

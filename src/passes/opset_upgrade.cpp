// See opset_upgrade.h. From opset 13 on, the default-domain changes up to 21 are new ops, new
// types, and new attributes or inputs whose defaults keep the old behaviour, except the ones
// handled here (checked against the ONNX operator changelog).
#include "passes/opset_upgrade.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "nncompress/analysis/static_shapes.h"
#include "passes/dtype_inference.h"

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
Status check11(Model& model, int64_t from) {
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
  return Status::ok();
}

void upgradeTo11(Model& model, int64_t from, int64_t* rewritten) {
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
}


void setIntAttr(Node& node, const std::string& name, int64_t value) {
  eraseAttr(node, name);
  Attribute a;
  a.name = name;
  a.type = AttrType::kInt;
  a.i = value;
  node.attributes.push_back(std::move(a));
}

// The node stored right after `node` in its graph, or nullptr when it is the last.
Node* nodeAfter(const Node& node) {
  const std::vector<Node*> nodes = node.graph()->nodes();
  auto it = std::find(nodes.begin(), nodes.end(), &node);
  return it == nodes.end() || it + 1 == nodes.end() ? nullptr : *(it + 1);
}

// Before opset 13, Softmax/LogSoftmax/Hardmax(x, axis) flattened x to 2-D at `axis` (default 1)
// and normalized each row; from 13 on they work along the one axis (default -1). The two agree
// when `axis` is the last dimension; otherwise the old meaning is spelled out:
//   Reshape(Softmax13(Flatten(x, axis), axis=1), Shape(x))
// keeping the output's name, so readers and graph outputs are unchanged.
void rewriteCoercedSoftmax(Node& node, const StaticShapes& shapes, int64_t* rewritten) {
  const int64_t axis = node.attrInt("axis", 1);
  Value* x = node.input(0);
  std::optional<std::vector<int64_t>> shape = node.graph()->parent() == nullptr ? shapes.of(x) : std::nullopt;
  if (!shape && x->type.isTensor() && x->type.has_shape) shape = std::vector<int64_t>(x->type.dims.size(), -1);
  const bool along_last = axis == -1 || (shape && axis == static_cast<int64_t>(shape->size()) - 1);
  if (along_last) {
    if (node.attr("axis") == nullptr || node.attrInt("axis", 1) != -1) setIntAttr(node, "axis", -1);
    ++*rewritten;
    return;
  }
  Graph& graph = *node.graph();
  const std::string base = baseName(node);
  Node* flatten = graph.insertNodeBefore(&node, "Flatten");
  flatten->name = base + "_flatten";
  setIntAttr(*flatten, "axis", axis);
  graph.appendNodeInput(flatten, x);
  Value* rows = graph.addValue(base + "_rows");
  graph.appendNodeOutput(flatten, rows);
  Node* shape_of = graph.insertNodeBefore(&node, "Shape");
  shape_of->name = base + "_shape";
  graph.appendNodeInput(shape_of, x);
  Value* x_shape = graph.addValue(base + "_input_shape");
  graph.appendNodeOutput(shape_of, x_shape);
  graph.setNodeInput(&node, 0, rows);
  setIntAttr(node, "axis", 1);

  // The node's output gets a fresh name and loses its declared shape (it is 2-D now); a
  // Reshape takes over the old name and type.
  Value* y = node.output(0);
  const std::string name = y->name();
  std::string renamed = name + "_2d";
  for (int n = 1; !graph.renameValue(y, renamed).isOk(); ++n) renamed = name + "_2d_" + std::to_string(n);
  auto restored = graph.addNamedValue(name);
  NNC_ENFORCE(restored.isOk(), "the output's old name is free after renaming");
  Value* out = *restored;
  out->type = y->type;
  y->type.has_shape = false;
  y->type.dims.clear();
  graph.replaceAllUsesWith(y, out);
  Node* next = nodeAfter(node);
  Node* reshape = next != nullptr ? graph.insertNodeBefore(next, "Reshape") : graph.appendNode("Reshape");
  reshape->name = base + "_unflatten";
  graph.appendNodeInput(reshape, y);
  graph.appendNodeInput(reshape, x_shape);
  graph.appendNodeOutput(reshape, out);
  ++*rewritten;
}

// Opset 11 or 12 -> 13: Split's `split`, Squeeze/Unsqueeze's and ReduceSum's `axes` become inputs;
// Dropout's `ratio` became an input in 12; Softmax-like ops change meaning (above); Resize's
// tf_half_pixel_for_nn mode was removed (refused).
Status check13(Model& model, int64_t from) {
  std::string refused;
  forEachNode(*model.graph, [&](Node& node) {
    if (!refused.empty() || !isDefaultDomain(node)) return;
    const Attribute* mode = node.attr("coordinate_transformation_mode");
    if (node.op_type == "Resize" && mode != nullptr && mode->s == "tf_half_pixel_for_nn")
      refused = node.describe() + " uses coordinate_transformation_mode tf_half_pixel_for_nn (removed in opset 13)";
  });
  if (!refused.empty()) return unsupported("cannot raise the opset from " + std::to_string(from) + " to 13: " + refused);
  return Status::ok();
}

void upgradeTo13(Model& model, int64_t from, int64_t* rewritten) {
  const StaticShapes shapes = StaticShapes::infer(model);
  std::vector<Node*> softmaxes;
  forEachNode(*model.graph, [&](Node& node) {
    if (!isDefaultDomain(node)) return;
    Graph& graph = *node.graph();
    const std::string& op = node.op_type;
    const char* list_attr = op == "Split" ? "split" : (op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") ? "axes" : nullptr;
    if (list_attr != nullptr && node.attr(list_attr) != nullptr) {
      const std::vector<int64_t> values = node.attr(list_attr)->ints;
      if (op == "Split" && node.inputs().size() < 2) {
        graph.appendNodeInput(&node, int64Initializer(graph, baseName(node) + "_split", values));
      } else if (op != "Split") {
        graph.appendNodeInput(&node, int64Initializer(graph, baseName(node) + "_axes", values));
      }
      eraseAttr(node, list_attr);
      ++*rewritten;
    } else if (op == "Dropout" && from < 12 && node.attr("ratio") != nullptr) {
      Value* ratio = graph.addValue(baseName(node) + "_ratio");
      Tensor t = Tensor::fromValues<float>(DType::kFloat, {}, std::vector<float>{node.attrFloat("ratio", 0.5f)});
      t.name = ratio->name();
      graph.setInitializer(ratio, std::move(t));
      graph.appendNodeInput(&node, ratio);
      eraseAttr(node, "ratio");
      ++*rewritten;
    } else if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") {
      softmaxes.push_back(&node);  // rewritten after the walk: it inserts nodes
    }
  });
  for (Node* node : softmaxes) rewriteCoercedSoftmax(*node, shapes, rewritten);
}

// The ops whose meaning changed after opset 13, between `from` and `target`.
Status checkBreakingChanges(Model& model, int64_t from, int64_t target) {
  std::string refused;
  forEachNode(*model.graph, [&](Node& node) {
    if (!refused.empty() || !isDefaultDomain(node)) return;
    auto it = breakingChanges().find(node.op_type);
    if (it != breakingChanges().end() && from < it->second && it->second <= target)
      refused = node.describe() + " means something else in opset " + std::to_string(it->second);
  });
  if (!refused.empty())
    return unsupported("cannot raise the opset from " + std::to_string(from) + " to " + std::to_string(target) + ": " + refused);
  return Status::ok();
}

}  // namespace

Status upgradeOpset(Model& model, int64_t target, int64_t* rewritten) {
  const int64_t from = model.opsetVersion("");
  *rewritten = 0;
  if (from >= target) return Status::ok();
  if (from < 9)
    return unsupported("the model imports opset " + std::to_string(from) + "; raising it to " + std::to_string(target) +
                       " is only done from opset 9 on (too many ops changed before 9)");
  auto setDefaultOpset = [&](int64_t version) {
    for (auto& [domain, v] : model.opset_imports)
      if (domain.empty() || domain == "ai.onnx") v = version;
  };
  if (from < 13) {
    if (target != 11 && target < 13)
      return unsupported("raising the opset from " + std::to_string(from) + " to " + std::to_string(target) +
                         " is not supported (only to 11, or to 13 and later)");
    // Every refusal is checked before anything changes: an upgrade happens whole or not at all.
    if (from < 11) NNC_RETURN_IF_ERROR(check11(model, from));
    if (target >= 13) {
      NNC_RETURN_IF_ERROR(check13(model, from));
      NNC_RETURN_IF_ERROR(checkBreakingChanges(model, 13, target));
    }
    if (from < 11) {
      upgradeTo11(model, from, rewritten);
      setDefaultOpset(11);
      if (model.ir_version < 6) model.ir_version = 6;
      if (target == 11) return Status::ok();
    }
    upgradeTo13(model, std::max<int64_t>(from, 11), rewritten);
    setDefaultOpset(13);
    if (model.ir_version < 7) model.ir_version = 7;
    if (target == 13) return Status::ok();
    int64_t more = 0;
    Status rest = upgradeOpset(model, target, &more);  // 13 -> target: checked above, cannot fail
    *rewritten += more;
    return rest;
  }
  NNC_RETURN_IF_ERROR(checkBreakingChanges(model, from, target));
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
  setDefaultOpset(target);
  // IR version 10 came with opset 21 (int4 types); 9 with 19/20; 8 with 17/18.
  const int64_t ir = target >= 21 ? 10 : target >= 19 ? 9 : target >= 17 ? 8 : 7;
  if (model.ir_version < ir) model.ir_version = ir;
  return Status::ok();
}

}  // namespace nnc

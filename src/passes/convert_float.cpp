// convert-float{type=fp16|bf16, keep_io_types=true|false, block=Op+Op, compute=true|false}:
// float32 -> float16 or bfloat16. docs/float_conversion.md explains the choices; in short:
//   - every node computes in the 16-bit type ("low" node) unless its op is on the block-list
//     (ONNX Runtime's float16 converter's DEFAULT_OP_BLOCK_LIST, plus sums that grow with their
//     length, plus ops whose output type is an attribute), it is not in the default domain, it
//     has subgraphs (If/Loop/Scan keep float32 interfaces; their bodies are converted inside),
//     or it reads a constant outside the 16-bit range;
//   - float32 constants (initializers, Constant nodes, in subgraphs too) read by a low node are
//     stored in the 16-bit type; nonzero values below float16's smallest subnormal become that
//     subnormal (so an epsilon never becomes 0 and a division never becomes x/0);
//   - a Cast is inserted wherever a value crosses between a float32 and a low node (one per
//     value, target type and graph), and before graph outputs whose type must stay float32;
//   - with data in the PassContext (float16 compute only), the float32 model runs on it first and
//     a node any of whose float inputs or outputs reached half of float16's largest value
//     (32752) stays float32: activation ranges decide where the block-list cannot;
//   - compute=false ("storage only", the default for bf16 because ONNX Runtime's CPU provider has
//     almost no bfloat16 kernels) keeps every node in float32 and stores constants of 16 or more
//     elements in the 16-bit type with a Cast to float32 in front of their readers.
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "nncompress/ir/half.h"
#include "nncompress/passes/pass.h"
#include "passes/dtype_inference.h"
#include "passes/pass_record.h"
#include "passes/unique_names.h"
#include "passes/value_ranges.h"

namespace nnc {
namespace {

// ONNX Runtime's onnxconverter_common/float16.py DEFAULT_OP_BLOCK_LIST (ONNX-ML ops, and ops
// whose indices, coordinates or sizes need float32 or have no float16 kernel in ORT), plus
// reductions that sum many terms (their results overflow float16's 65504 where a mean does not).
const std::set<std::string>& defaultBlockList() {
  static const std::set<std::string> kBlock = {
      "ArrayFeatureExtractor", "Binarizer", "CastMap", "CategoryMapper", "DictVectorizer", "FeatureVectorizer",
      "Imputer", "LabelEncoder", "LinearClassifier", "LinearRegressor", "Normalizer", "OneHotEncoder",
      "RandomUniformLike", "SVMClassifier", "SVMRegressor", "Scaler", "TreeEnsembleClassifier",
      "TreeEnsembleRegressor", "ZipMap", "NonMaxSuppression", "TopK", "RoiAlign", "Resize", "Range", "CumSum",
      "Min", "Max", "Upsample",
      // nncompress additions: sums and products over many elements.
      "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceProd"};
  return kBlock;
}

// Ops whose float output type comes from an attribute or a second input, or that must see
// float32 scales: never "low" nodes (their float inputs get a Cast to float32 when needed).
const std::set<std::string>& ownTypeOps() {
  static const std::set<std::string> kOwn = {"Cast", "CastLike", "Constant", "ConstantOfShape", "RandomNormal",
                                             "RandomUniform", "RandomNormalLike", "EyeLike", "Bernoulli", "Multinomial",
                                             "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"};
  return kOwn;
}

// Inputs whose element type does not matter to the op (no Cast needed in front of them).
bool typeAgnosticInput(const Node& node, size_t index) {
  const std::string& op = node.op_type;
  return op == "Shape" || op == "Size" || ((op == "Cast" || op == "CastLike") && index == 0);
}

bool isDefaultDomain(const Node& n) { return n.domain.empty() || n.domain == "ai.onnx"; }

struct ConvertFloatOptions {
  DType low = DType::kFloat16;
  bool keep_io_types = true;
  bool compute = true;
  std::set<std::string> block;
  std::map<std::string, std::string> recorded;  // the options as given, for metadata
};

uint16_t toLow(DType low, float x) { return low == DType::kFloat16 ? floatToHalf(x) : floatToBfloat16(x); }
float fromLow(DType low, uint16_t x) { return low == DType::kFloat16 ? halfToFloat(x) : bfloat16ToFloat(x); }

// Whether every finite value of a float32 tensor stays finite in the 16-bit type.
bool fitsLow(const Tensor& t, DType low) {
  const float* p = t.dataAs<float>();
  for (int64_t i = 0; i < t.elementCount(); ++i)
    if (std::isfinite(p[i]) && !std::isfinite(fromLow(low, toLow(low, p[i])))) return false;
  return true;
}

class FloatConverter {
 public:
  FloatConverter(Model& model, const ConvertFloatOptions& options)
      : model_(model), options_(options), types_(model), node_names_(model) {}

  Expected<PassResult> run(const PassContext& context) {
    if (options_.low == DType::kBFloat16 && model_.opsetVersion("") < 13)
      return unsupported("convert-float: bfloat16 needs opset 13 or newer (Cast to bfloat16); the model imports opset " +
                         std::to_string(model_.opsetVersion("")));
    if (context.data != nullptr && options_.compute && options_.low == DType::kFloat16) {
      auto ranges = observeMaxAbs(model_, *context.data, 32, context.threads);
      if (!ranges) return ranges.status().withContext("convert-float: measuring activation ranges on the data");
      ranges_ = std::move(*ranges);
      samples_observed_ = context.data->size();
    }
    collectConstants(*model_.graph);
    forEachNode(*model_.graph, [&](Node& node) {
      if (isLowNode(node)) low_nodes_.insert(&node);
    });
    markValues();
    convertConstants();
    retypeValues();
    insertInputCasts(*model_.graph);
    fixOutputs(*model_.graph, /*main=*/true);
    recordPassInMetadata(model_, "convert-float", options_.recorded);
    return result();
  }

 private:
  bool isFloat32(const Value* v) const { return v != nullptr && types_.of(v) == DType::kFloat; }

  void collectConstants(Graph& graph) {
    forEachConstant(graph, [&](const ConstantRef& c) {
      if (c.tensor().dtype != DType::kFloat || c.value->isGraphInput()) return;
      constants_[c.value] = fitsLow(c.tensor(), options_.low);
    });
  }

  bool isLowNode(const Node& node) const {
    if (!options_.compute || !isDefaultDomain(node) || node.hasSubgraphs()) return false;
    if (options_.block.count(node.op_type) || ownTypeOps().count(node.op_type)) return false;
    bool any_float = false;
    for (const Value* in : node.inputs()) {
      if (in == nullptr) continue;
      auto t = types_.of(in);
      if (!t) return false;  // unknown type: leave the node alone
      if (*t == DType::kFloat) {
        any_float = true;
        auto c = constants_.find(in);
        if (c != constants_.end() && !c->second) return false;  // a weight outside the 16-bit range
      }
    }
    if (!any_float) return false;
    if (overflowsOnData(node)) {
      kept_for_range_.insert(&node);
      return false;
    }
    for (size_t i = 0; i < node.outputs().size(); ++i) {
      const Value* out = node.output(i);
      if (out == nullptr) continue;
      if (!types_.of(out)) return false;
      // LayerNormalization's Mean/InvStdDev are float32 or bfloat16 only: convert it only
      // when they are not used.
      if (node.op_type == "LayerNormalization" && i > 0 && (!out->uses().empty() || out->isGraphOutput())) return false;
    }
    return true;
  }

  // Whether the data drove one of the node's float32 inputs or outputs to within a factor 2 of
  // float16's largest value (the margin covers samples the data does not have).
  bool overflowsOnData(const Node& node) const {
    if (ranges_.empty()) return false;
    auto over = [&](const Value* v) {
      if (v == nullptr || !isFloat32(v)) return false;
      auto it = ranges_.find(v);
      return it != ranges_.end() && it->second > 65504.0f / 2;
    };
    for (const Value* v : node.inputs())
      if (over(v)) return true;
    for (const Value* v : node.outputs())
      if (over(v)) return true;
    return false;
  }

  // Which float32 values become 16-bit.
  void markValues() {
    for (const Node* node : low_nodes_)
      for (const Value* out : node->outputs())
        if (isFloat32(out)) low_values_.insert(out);
    if (!options_.keep_io_types)
      for (const Value* in : model_.graph->inputs())
        if (isFloat32(in) && in->initializer() == nullptr) low_values_.insert(in);
    for (const auto& [value, fits] : constants_) {
      if (!fits) continue;
      bool low_reader = false;
      for (const Value::Use& use : value->uses()) low_reader |= low_nodes_.count(use.node) > 0;
      auto c = constantRefOf(const_cast<Value*>(value));
      const bool worth_storing = !options_.compute && c && c->tensor().elementCount() >= 16;
      if (low_reader || worth_storing) low_values_.insert(value);
    }
  }

  void convertConstants() {
    for (const auto& [value, fits] : constants_) {
      if (!low_values_.count(value)) continue;
      auto c = constantRefOf(const_cast<Value*>(value));
      NNC_ENFORCE(c.has_value(), "a collected constant is still a constant");
      const Tensor& t = c->tensor();
      uint8_t* data = nullptr;
      Tensor converted = Tensor::uninitialized(options_.low, t.shape, &data);
      converted.name = t.name;
      converted.doc_string = t.doc_string;
      uint16_t* out = reinterpret_cast<uint16_t*>(data);
      const float* in = t.dataAs<float>();
      for (int64_t i = 0; i < t.elementCount(); ++i) {
        float x = in[i];
        // Nonzero values that float16 would flush to zero keep their sign at the smallest
        // subnormal (bfloat16 has float32's exponent range: nothing to do).
        if (options_.low == DType::kFloat16 && x != 0.0f && std::fabs(x) < 0x1p-24f) {
          x = std::copysign(0x1p-24f, x);
          ++tiny_values_raised_;
        }
        out[i] = toLow(options_.low, x);
      }
      c->replace(std::move(converted));
      ++constants_converted_;
      constant_bytes_saved_ += static_cast<uint64_t>(t.elementCount()) * 2;
    }
  }

  void retypeValues() {
    const int32_t low = static_cast<int32_t>(options_.low);
    for (const Value* v : low_values_) {
      Value* value = const_cast<Value*>(v);
      if (value->type.isTensor() && !value->isGraphOutput()) value->type.elem_type = low;
      types_.set(value, options_.low);
    }
  }

  // A value of the wanted type: `value` itself or a Cast of it placed in `graph` before `before`.
  Value* castTo(Value* value, DType want, Graph& graph, Node* before) {
    auto key = std::make_tuple(&graph, value, want);
    auto it = casts_.find(key);
    if (it != casts_.end()) return it->second;
    Node* cast = graph.insertNodeBefore(before, "Cast");
    cast->name = node_names_.make(value->name() + (want == DType::kFloat ? "_to_fp32" : "_to_low"));
    Attribute to;
    to.name = "to";
    to.type = AttrType::kInt;
    to.i = static_cast<int64_t>(want);
    cast->attributes.push_back(std::move(to));
    Value* out = graph.addValue(value->name() + (want == DType::kFloat ? "_fp32" : (want == DType::kFloat16 ? "_fp16" : "_bf16")));
    graph.appendNodeInput(cast, value);
    graph.appendNodeOutput(cast, out);
    types_.set(out, want);
    casts_[key] = out;
    ++casts_inserted_;
    return out;
  }

  // Every node input whose type differs from what the node computes in gets a Cast.
  void insertInputCasts(Graph& graph) {
    for (Node* node : graph.nodes()) {
      if (casts_created_.count(node)) continue;
      for (Attribute& a : node->attributes) {
        if (a.g) insertInputCasts(*a.g);
        for (auto& g : a.graphs) insertInputCasts(*g);
      }
      const bool low_node = low_nodes_.count(node) > 0;
      for (size_t i = 0; i < node->inputs().size(); ++i) {
        Value* in = node->input(i);
        if (in == nullptr || typeAgnosticInput(*node, i)) continue;
        const bool was_float32 = low_values_.count(in) || types_.of(in) == DType::kFloat;
        if (!was_float32) continue;
        const bool is_low = low_values_.count(in) > 0;
        if (is_low == low_node) continue;
        Value* cast = castTo(in, low_node ? options_.low : DType::kFloat, graph, node);
        casts_created_.insert(cast->producer());
        graph.setNodeInput(node, i, cast);
      }
    }
  }

  // Graph outputs keep float32 when asked (and always in subgraphs, whose outputs are the
  // interface of their If/Loop/Scan node): a low output is renamed and a Cast takes its name.
  void fixOutputs(Graph& graph, bool main) {
    for (Node* node : graph.nodes())
      for (Attribute& a : node->attributes) {
        if (a.g) fixOutputs(*a.g, false);
        for (auto& g : a.graphs) fixOutputs(*g, false);
      }
    for (size_t k = 0; k < graph.outputs().size(); ++k) {
      Value* v = graph.outputs()[k];
      if (!low_values_.count(v)) continue;
      if (main && !options_.keep_io_types) {
        if (v->type.isTensor()) v->type.elem_type = static_cast<int32_t>(options_.low);
        continue;
      }
      const std::string name = v->name();
      const ValueType declared = v->type;
      std::string renamed = name;
      renamed += options_.low == DType::kFloat16 ? "_fp16" : "_bf16";
      for (int n = 1; !graph.renameValue(v, renamed).isOk(); ++n) renamed = name + "_low" + std::to_string(n);
      if (v->type.isTensor()) v->type.elem_type = static_cast<int32_t>(options_.low);
      auto out = graph.addNamedValue(name);
      NNC_ENFORCE(out.isOk(), "the output's old name is free after renaming");
      Node* cast = graph.appendNode("Cast");
      cast->name = node_names_.make(name + "_to_fp32");
      Attribute to;
      to.name = "to";
      to.type = AttrType::kInt;
      to.i = static_cast<int64_t>(DType::kFloat);
      cast->attributes.push_back(std::move(to));
      graph.appendNodeInput(cast, v);
      graph.appendNodeOutput(cast, *out);
      (*out)->type = declared;
      graph.setOutput(k, *out);
      ++casts_inserted_;
    }
  }

  PassResult result() const {
    PassResult r;
    int64_t float_nodes = 0;
    forEachNode(*model_.graph, [&](Node&) { ++float_nodes; });
    r.changed = constants_converted_ > 0 || !low_nodes_.empty() || casts_inserted_ > 0;
    const std::string low = options_.low == DType::kFloat16 ? "float16" : "bfloat16";
    r.stats["type"] = low;
    r.stats["compute"] = options_.compute;
    r.stats["nodes_converted"] = low_nodes_.size();
    r.stats["constants_converted"] = constants_converted_;
    r.stats["bytes_saved"] = constant_bytes_saved_;
    r.stats["casts_inserted"] = casts_inserted_;
    r.stats["tiny_values_raised"] = tiny_values_raised_;
    int64_t out_of_range = 0;
    for (const auto& [value, fits] : constants_) out_of_range += fits ? 0 : 1;
    r.stats["constants_out_of_range"] = out_of_range;
    r.stats["samples_observed"] = samples_observed_;
    r.stats["nodes_kept_for_activation_range"] = kept_for_range_.size();
    // Which op types stayed float32 (sorted, deterministic).
    std::map<std::string, int64_t> kept;
    forEachNode(*model_.graph, [&](Node& node) {
      if (!low_nodes_.count(&node) && node.op_type != "Cast" && node.op_type != "Constant") ++kept[node.op_type];
    });
    r.stats["float32_ops"] = kept;
    std::ostringstream s;
    s << low_nodes_.size() << " nodes compute in " << low << ", " << constants_converted_ << " constants stored as " << low << " ("
      << casts_inserted_ << " Casts inserted";
    if (out_of_range > 0) s << ", " << out_of_range << " constants outside the " << low << " range kept float32";
    if (!kept_for_range_.empty()) s << ", " << kept_for_range_.size() << " nodes kept float32 for their activation range";
    s << ")";
    r.summary = s.str();
    return r;
  }

  Model& model_;
  const ConvertFloatOptions& options_;
  DTypeMap types_;
  UniqueNodeNames node_names_;
  std::map<const Value*, bool> constants_;  // float32 constant -> fits the 16-bit type
  std::set<const Node*> low_nodes_;
  mutable std::set<const Node*> kept_for_range_;  // filled by isLowNode()
  std::set<const Value*> low_values_;
  std::map<const Value*, float> ranges_;  // max |x| on the data (main graph), when data is given
  int64_t samples_observed_ = 0;
  std::map<std::tuple<Graph*, Value*, DType>, Value*> casts_;
  std::set<const Node*> casts_created_;
  int64_t constants_converted_ = 0, casts_inserted_ = 0, tiny_values_raised_ = 0;
  uint64_t constant_bytes_saved_ = 0;
};

class ConvertFloatPass final : public Pass {
 public:
  explicit ConvertFloatPass(ConvertFloatOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "convert-float"; }
  Expected<PassResult> run(Model& model, PassContext& context) override { return FloatConverter(model, options_).run(context); }

 private:
  ConvertFloatOptions options_;
};

// Splits "A+B:C" (pipeline values cannot hold commas) into names.
std::set<std::string> splitOpList(const std::string& text) {
  std::set<std::string> names;
  std::string current;
  for (char ch : text + "+") {
    if (ch == '+' || ch == ':' || ch == ',') {
      if (!current.empty()) names.insert(current);
      current.clear();
    } else {
      current += ch;
    }
  }
  return names;
}

}  // namespace

Expected<std::unique_ptr<Pass>> createConvertFloatPass(const PassSpec& spec) {
  PassOptions options(spec);
  ConvertFloatOptions o;
  const std::string type = options.text("type", "fp16");
  if (type == "fp16" || type == "float16") o.low = DType::kFloat16;
  else if (type == "bf16" || type == "bfloat16") o.low = DType::kBFloat16;
  else return invalidArgument("convert-float: option type=" + type + " is not fp16 or bf16");
  NNC_ASSIGN_OR_RETURN(o.keep_io_types, options.flag("keep_io_types", true));
  NNC_ASSIGN_OR_RETURN(o.compute, options.flag("compute", o.low == DType::kFloat16));
  o.block = defaultBlockList();
  for (const std::string& op : splitOpList(options.text("block", ""))) o.block.insert(op);
  NNC_RETURN_IF_ERROR(options.checkNoUnknownOptions());
  o.recorded = spec.options;
  o.recorded["type"] = o.low == DType::kFloat16 ? "fp16" : "bf16";
  o.recorded["keep_io_types"] = o.keep_io_types ? "true" : "false";
  o.recorded["compute"] = o.compute ? "true" : "false";
  return std::unique_ptr<Pass>(std::make_unique<ConvertFloatPass>(std::move(o)));
}

}  // namespace nnc

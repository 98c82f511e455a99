// The walker of the channel analysis (internal to src/analysis; see
// include/nncompress/analysis/channel_groups.h): a union-find over channel slots, the walk, and
// one visit rule per op family. channel_groups.cpp walks the graph and builds the groups; the
// op rules live in channel_rules_linear.cpp (Conv, ConvTranspose, Gemm, MatMul),
// channel_rules_pointwise.cpp (elementwise, normalization, reductions, Resize) and
// channel_rules_layout.cpp (Concat, Split, Slice, Flatten, Reshape, Squeeze/Unsqueeze).
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nncompress/analysis/channel_groups.h"
#include "nncompress/analysis/static_shapes.h"

namespace nnc::channel_internal {

// A tensor with a known channel axis: rank, axis, and one slot per position along the axis.
struct Tracked {
  int rank = 0;
  int axis = 0;
  std::vector<int64_t> slots;
};

// Reads a small integer constant (int64/int32) as int64 values.
inline std::optional<std::vector<int64_t>> intValues(Value* v) {
  auto c = constantRefOf(v);
  if (!c || v->isGraphInput()) return std::nullopt;
  const Tensor& t = c->tensor();
  std::vector<int64_t> out;
  if (t.dtype == DType::kInt64) out.assign(t.dataAs<int64_t>(), t.dataAs<int64_t>() + t.elementCount());
  else if (t.dtype == DType::kInt32) out.assign(t.dataAs<int32_t>(), t.dataAs<int32_t>() + t.elementCount());
  else return std::nullopt;
  return out;
}

inline std::optional<double> scalarValue(Value* v) {
  auto c = constantRefOf(v);
  if (!c || c->tensor().elementCount() != 1) return std::nullopt;
  const Tensor& t = c->tensor();
  switch (t.dtype) {
    case DType::kUInt8: return double(t.dataAs<uint8_t>()[0]);
    case DType::kInt8: return double(t.dataAs<int8_t>()[0]);
    case DType::kFloat: return double(t.dataAs<float>()[0]);
    default: return std::nullopt;
  }
}

inline const Tensor* constantTensor(Value* v) {
  if (v == nullptr || v->isGraphInput()) return nullptr;
  auto c = constantRefOf(v);
  return c ? &c->tensor() : nullptr;
}

inline bool isUsed(const Value* v) { return v != nullptr && (!v->uses().empty() || v->isGraphOutput()); }

inline int64_t product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= dims[i];
  return p;
}

class Builder {
 public:
  explicit Builder(Model& model) : model_(model), graph_(*model.graph), shapes_(StaticShapes::infer(model)) {}

  Expected<ChannelAnalysis> run();

 private:
  // --- slots ------------------------------------------------------------------------------
  std::vector<int64_t> newSlots(int64_t count) {
    std::vector<int64_t> slots(static_cast<size_t>(count));
    for (auto& s : slots) {
      s = static_cast<int64_t>(parent_.size());
      parent_.push_back(s);
      head_.push_back(0);
    }
    return slots;
  }
  int64_t root(int64_t s) {
    while (parent_[s] != s) s = parent_[s] = parent_[parent_[s]];
    return s;
  }
  void unite(int64_t a, int64_t b) {
    a = root(a), b = root(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }
  void lock(const std::vector<int64_t>& slots, const std::string& reason) {
    for (int64_t s : slots) locks_.emplace_back(s, reason);
  }

  const Tracked* find(const Value* v) const {
    auto it = tracked_.find(v);
    return it == tracked_.end() ? nullptr : &it->second;
  }
  void track(Value* v, Tracked t) {
    if (v == nullptr) return;
    tracked_order_.push_back(v);
    tracked_[v] = std::move(t);
  }
  // The rank of a value: tracked, constant, or statically inferred.
  std::optional<int> rankOf(Value* v) const {
    if (const Tracked* t = find(v)) return t->rank;
    if (auto s = shapes_.of(v)) return static_cast<int>(s->size());
    return std::nullopt;
  }

  // Pending edits; committed only when a rule succeeds as a whole.
  struct Pending {
    std::vector<ChannelSlice> slices;  // channels hold slot ids until finish()
    std::vector<ChannelFixup> fixups;
  };
  void commit(Pending& p) {
    for (auto& s : p.slices) slices_.push_back(std::move(s));
    for (auto& f : p.fixups) fixups_.push_back(std::move(f));
  }
  void addSegment(const Node& producer, std::vector<int64_t> slots, ChannelGroup::Kind kind) {
    producers_.push_back({producer.describe(), const_cast<Node*>(&producer), std::move(slots), kind});
  }

  // --- the walk -----------------------------------------------------------------------------
  // Dispatches a node to its rule; locks the tracked inputs of a node no rule understands.
  void visit(Node& n);

  // Conv / ConvInteger: output channels are created here (weight axis 0, bias); input channels
  // are consumed (weight axis 1). Depthwise: output channel o is input channel o / multiplier.
  bool visitConv(Node& n);

  // ConvInteger's scalar weight zero point (importance uses |q - zero point|); 0 otherwise.
  double zeroPoint(Node& n, bool integer);

  // ConvTranspose: weight [C_in, C_out/group, k...]; only group 1.
  bool visitConvTranspose(Node& n);

  // Gemm: Y = A' B' + C with a constant B; output neurons are B's N axis.
  bool visitGemm(Node& n);

  // MatMul with a constant [K, N] right operand: a linear layer over the last axis. Two
  // activations (attention scores): coupled on a shared batch axis.
  bool visitMatMul(Node& n);

  // Everything that is neither producer nor linear consumer.
  bool visitPassOrCouple(Node& n);

  // Whether a value statically has one element (all dims 1).
  bool isScalar(Value* v);

  // Broadcasting elementwise ops: tracked operands are coupled position by position; untracked
  // operands must be scalar along the channel axis or per-channel constants (then sliced).
  bool visitElementwise(Node& n);

  // BatchNormalization / InstanceNormalization on axis 1: inputs 1..params are sliced.
  bool visitNorm(Node& n, size_t params);

  // LayerNormalization over the channel axis alone (the last axis): scale and bias are sliced.
  // The statistics then cover the kept channels only (as after pruning any LayerNorm model).
  bool visitLayerNorm(Node& n);

  // Reductions over other axes keep the channels; keepdims=0 shifts the axis.
  bool visitReduce(Node& n);

  // Concat on the channel axis: the operands' slots one after the other (index map with
  // offsets); on another axis: the operands are coupled.
  bool visitConcat(Node& n);

  // Split on the channel axis: each output a sub-range, its size a fixup; needs explicit sizes.
  bool visitSplit(Node& n);

  // Slice with constant bounds: along the channel axis (step 1) the output keeps a range of
  // the input's slots; the bounds become counts of kept channels before them.
  bool visitSlice(Node& n);

  // Resize keeps channels when its scale on the channel axis is 1; constant output sizes get
  // their channel entry recomputed; sizes computed at run time follow the input's shape.
  bool visitResize(Node& n);

  // Flatten at the channel axis: each channel spreads over the product of the dims after it.
  bool visitFlatten(Node& n);

  // Product of the static dims after `axis`, or -1 when one is unknown.
  static int64_t innerSize(const std::vector<int64_t>& shape, int axis);

  // Each channel spread over `inner` consecutive positions (channel c -> c*inner .. c*inner+inner-1).
  std::vector<int64_t> expand(const std::vector<int64_t>& slots, int64_t inner);

  // Reshape with a constant target. The dims before the channel axis must be kept as they are;
  // the channel axis and the dims after it (all static) are regrouped into the target's dims
  // from the same position on. The first target dim there becomes the channel axis:
  //   - each position holds several whole channels ([B,S,H*D] -> [B,S,H,D]: a head holds D
  //     neurons, which become one coupled channel), or
  //   - each channel spreads over f positions ([N,C,H,W] -> [N,C*H*W]: Flatten before a Gemm).
  bool visitReshape(Node& n);

  // Squeeze/Unsqueeze of other axes: the channel axis moves.
  bool visitSqueeze(Node& n);

  // --- results --------------------------------------------------------------------------
  // Numbers coupled channels, groups them, and maps slices/fixups/axes to channel ids.
  ChannelAnalysis finish();

  struct ProducerSegment {
    std::string name;
    Node* node;
    std::vector<int64_t> slots;
    ChannelGroup::Kind kind;
  };

  Model& model_;
  Graph& graph_;
  StaticShapes shapes_;
  std::vector<int64_t> parent_;
  std::vector<char> head_;
  std::vector<std::pair<int64_t, std::string>> locks_;
  std::unordered_map<const Value*, Tracked> tracked_;  // lookup only; order lives in tracked_order_
  std::vector<Value*> tracked_order_;
  std::vector<ChannelSlice> slices_;
  std::vector<ChannelFixup> fixups_;
  std::vector<ProducerSegment> producers_;
};

}  // namespace nnc::channel_internal

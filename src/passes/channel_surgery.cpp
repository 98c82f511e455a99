// removeChannels: byte-level slicing (any fixed-size dtype), grouped per node input so that a
// Gemm weight loses rows and columns in one rewrite, in stored node order (deterministic).
#include "channel_surgery.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace nnc {
namespace {

// Keeps the positions of `axis` whose channel is not removed.
Tensor sliceAxis(const Tensor& t, int axis, const std::vector<int64_t>& channels, const std::vector<char>& remove) {
  NNC_ENFORCE(axis >= 0 && axis < static_cast<int>(t.shape.size()) && t.shape[axis] == static_cast<int64_t>(channels.size()),
              "channel slice does not match tensor shape");
  const int bits = dtypeBits(t.dtype);
  NNC_ENFORCE(bits >= 8 && bits % 8 == 0, "channel slice of a sub-byte or string tensor");
  const size_t elem = static_cast<size_t>(bits / 8);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= t.shape[i];
  for (size_t i = axis + 1; i < t.shape.size(); ++i) inner *= t.shape[i];
  std::vector<int64_t> keep;
  for (size_t i = 0; i < channels.size(); ++i)
    if (!remove[channels[i]]) keep.push_back(static_cast<int64_t>(i));
  std::vector<int64_t> shape = t.shape;
  shape[axis] = static_cast<int64_t>(keep.size());
  uint8_t* out = nullptr;
  Tensor result = Tensor::uninitialized(t.dtype, shape, &out);
  result.name = t.name;
  result.doc_string = t.doc_string;
  const size_t row = static_cast<size_t>(inner) * elem;
  const uint8_t* in = t.bytes();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k : keep) {
      std::memcpy(out, in + (static_cast<size_t>(o * t.shape[axis] + k)) * row, row);
      out += row;
    }
  return result;
}

int64_t keptCount(const std::vector<int64_t>& channels, const std::vector<char>& remove) {
  int64_t n = 0;
  for (int64_t c : channels) n += remove[c] ? 0 : 1;
  return n;
}

// Puts a rewritten constant into node input `index`: in place when the node is its only user,
// else as a new initializer (the old constant stays for its other users).
void setConstantInput(Graph& graph, Node* node, size_t index, Tensor tensor, std::vector<Value*>& orphans) {
  Value* old = node->input(index);
  auto ref = constantRefOf(old);
  NNC_ENFORCE(ref.has_value(), "channel surgery on a non-constant input of " + node->describe());
  if (old->uses().size() == 1 && !old->isGraphOutput() && !old->isGraphInput() && ref->graph == &graph) {
    if (old->type.isTensor() && old->type.has_shape) {
      old->type.dims.clear();
      for (int64_t d : tensor.shape) old->type.dims.push_back(Dim{d, "", ""});
    }
    ref->replace(std::move(tensor));
    return;
  }
  Value* fresh = graph.addValue(old->name() + "_pruned");
  tensor.name = fresh->name();
  graph.setInitializer(fresh, std::move(tensor));
  graph.setNodeInput(node, index, fresh);
  orphans.push_back(old);
}

void writeInt(Tensor& t, size_t index, int64_t value) {
  uint8_t* data = nullptr;
  Tensor copy = Tensor::uninitialized(t.dtype, t.shape, &data);
  std::memcpy(data, t.bytes(), t.byteSize());
  if (t.dtype == DType::kInt64) reinterpret_cast<int64_t*>(data)[index] = value;
  else reinterpret_cast<int32_t*>(data)[index] = static_cast<int32_t>(value);
  copy.name = t.name;
  copy.doc_string = t.doc_string;
  t = std::move(copy);
}

// Deletes the constants that copies replaced everywhere (each value once, in order).
void eraseOrphans(Graph& graph, std::vector<Value*>& orphans) {
  std::vector<Value*> done;
  for (Value* v : orphans) {
    if (std::find(done.begin(), done.end(), v) != done.end()) continue;
    done.push_back(v);
    if (!v->uses().empty() || v->isGraphOutput() || v->isGraphInput() || v->graph() != &graph) continue;
    if (Node* producer = v->producer()) {
      graph.eraseNode(producer);
    } else {
      graph.removeInitializer(v);
    }
    graph.eraseValue(v);
  }
}

// Stores the nodes in topological order when they are not (some converters append nodes at the
// end; ONNX requires sorted nodes, and the output of a pass must pass the checker).
void sortNodes(Graph& graph) {
  auto order = graph.topologicalOrder();
  if (!order || *order == graph.nodes()) return;
  for (size_t i = order->size() - 1; i-- > 0;) graph.moveNodeBefore((*order)[i], (*order)[i + 1]);
}

}  // namespace

void removeChannels(Graph& graph, const ChannelAnalysis& analysis, const std::vector<char>& remove) {
  std::vector<Value*> orphans;
  std::map<const Node*, size_t> position;
  for (Node* node : graph.nodes()) position.emplace(node, position.size());
  using Key = std::pair<size_t, size_t>;  // (node position, input index): stored order
  std::map<Key, std::vector<const ChannelSlice*>> slices;
  for (const ChannelSlice& s : analysis.slices) slices[{position.at(s.node), s.input}].push_back(&s);
  for (const auto& [key, list] : slices) {
    Node* node = list.front()->node;
    Tensor t = constantRefOf(node->input(list.front()->input))->tensor();
    bool changed = false;
    for (const ChannelSlice* s : list) {
      if (keptCount(s->channels, remove) == static_cast<int64_t>(s->channels.size())) continue;
      t = sliceAxis(t, s->axis, s->channels, remove);
      changed = true;
    }
    if (changed) setConstantInput(graph, node, list.front()->input, std::move(t), orphans);
  }

  std::map<Key, std::vector<const ChannelFixup*>> constant_fixups;
  for (const ChannelFixup& f : analysis.fixups) {
    const int64_t value = f.factor * keptCount(f.channels, remove);
    if (f.input >= 0) {
      constant_fixups[{position.at(f.node), static_cast<size_t>(f.input)}].push_back(&f);
      continue;
    }
    Attribute* a = f.node->attr(f.attribute);
    NNC_ENFORCE(a != nullptr, "channel fixup of a missing attribute");
    if (a->type == AttrType::kInt) a->i = value;
    else a->ints.at(f.index) = value;
  }
  for (const auto& [key, list] : constant_fixups) {
    Node* node = list.front()->node;
    Tensor t = constantRefOf(node->input(key.second))->tensor();
    bool changed = false;
    for (const ChannelFixup* f : list) {
      const int64_t value = f->factor * keptCount(f->channels, remove);
      const int64_t old = t.dtype == DType::kInt64 ? t.dataAs<int64_t>()[f->index] : t.dataAs<int32_t>()[f->index];
      if (old == value) continue;
      writeInt(t, f->index, value);
      changed = true;
    }
    if (changed) setConstantInput(graph, node, key.second, std::move(t), orphans);
  }

  for (const ChannelAxis& axis : analysis.axes) {
    ValueType& type = axis.value->type;
    if (!type.isTensor() || !type.has_shape || axis.axis >= static_cast<int>(type.dims.size())) continue;
    Dim& d = type.dims[axis.axis];
    if (d.value) d.value = keptCount(axis.channels, remove);
  }
  eraseOrphans(graph, orphans);
  sortNodes(graph);
}

}  // namespace nnc

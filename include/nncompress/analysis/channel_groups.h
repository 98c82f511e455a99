// Channel dependency analysis for structured pruning (DepGraph-style, on the ONNX graph).
//
// Every tensor whose channel axis the analysis understands gets one "slot" per position along
// that axis. Ops that tie positions together (pass-through activations, residual Add, Concat
// index maps, Flatten/Reshape before a Gemm, depthwise Conv, attention head reshapes) merge
// slots; a set of merged slots is a *coupled channel*: removing it removes every one of its
// positions from every tensor at once, and the graph stays valid. Coupled channels that come
// from the same producers form a *group* (e.g. all 32 channels of a residual stream). Constants
// sliced with a channel (weights, biases, BN parameters, per-channel constants) are *slices*;
// int64 constants and attributes that encode channel counts (Reshape shapes, Split sizes,
// Slice bounds, Conv group) are *fixups*, recomputed from the kept channels.
// Anything not understood (graph outputs, unknown ops, Reshapes that would change meaning)
// marks the channels it touches unprunable: the analysis never proposes a wrong graph.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nncompress/ir/graph.h"

namespace nnc {

// A constant node input sliced along one axis: position i of that axis belongs to channels[i].
struct ChannelSlice {
  Node* node;
  size_t input;
  int axis;
  std::vector<int64_t> channels;  // coupled-channel id per position
  enum class Role { kWeight, kBias, kNormScale, kParam } role;
  double zero_point = 0;  // integer weights (ConvInteger): importance uses |q - zero_point|
};

// An int64 entry recomputed as factor x (number of kept channels among `channels`). The target
// is a constant node input (input >= 0, element `index`) or an int/ints attribute.
struct ChannelFixup {
  Node* node;
  int input = -1;          // constant input, or -1 for the attribute
  std::string attribute;   // when input == -1
  size_t index = 0;        // element of the constant / of an ints attribute
  std::vector<int64_t> channels;
  int64_t factor = 1;
};

// A tensor of the graph with a tracked channel axis (for shape updates and reports).
struct ChannelAxis {
  Value* value;
  int axis;
  std::vector<int64_t> channels;
};

// Coupled channels that always appear together: pruning picks channels inside one group.
struct ChannelGroup {
  enum class Kind { kChannel, kNeuron, kHead };
  Kind kind = Kind::kChannel;
  std::vector<int64_t> channels;        // coupled-channel ids, in the first producer's order
  std::vector<std::string> producers;   // nodes that create these channels (describe())
  std::vector<Node*> producer_nodes;    // the same nodes
  std::vector<std::vector<int64_t>> segments;  // channels per producer output / per tensor: each keeps >= min
  bool prunable = true;
  std::string reason;  // why not prunable
  size_t tensors = 0;  // tracked tensors + sliced constants in the group
};

struct ChannelAnalysis {
  int64_t channel_count = 0;        // coupled channels, ids 0..channel_count-1
  std::vector<int64_t> group_of;    // channel id -> group index
  std::vector<char> locked;         // channel id -> cannot be removed (see its group's reason)
  std::vector<ChannelGroup> groups;
  std::vector<ChannelSlice> slices;
  std::vector<ChannelFixup> fixups;
  std::vector<ChannelAxis> axes;
};

std::string channelGroupKindName(ChannelGroup::Kind kind);

// Analyses the main graph. Fails only on a graph that is not a DAG.
Expected<ChannelAnalysis> analyzeChannelGroups(Model& model);

}  // namespace nnc

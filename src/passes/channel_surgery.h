// Applies a channel pruning decision to a graph: slices every coupled constant, rewrites the
// int64 constants and attributes that encode channel counts, and updates declared shapes. The
// decision comes from a ChannelAnalysis of the same graph (see analysis/channel_groups.h).
#pragma once

#include <vector>

#include "nncompress/analysis/channel_groups.h"

namespace nnc {

// Removes every channel c with remove[c] set (and sorts the nodes topologically). Constants shared with nodes outside the slice
// are copied, not changed in place; constants left unused afterwards are deleted.
void removeChannels(Graph& graph, const ChannelAnalysis& analysis, const std::vector<char>& remove);

}  // namespace nnc

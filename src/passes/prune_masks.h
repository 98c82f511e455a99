// Which weight elements to zero, given one importance score per element: the k lowest scores of
// one or several tensors taken together (per-layer or global magnitude/Wanda pruning), or the
// m-n lowest in every group of m consecutive elements along the reduction axis (N:M sparsity).
// Ties are broken by position, so the masks are deterministic.
#pragma once

#include <cstdint>
#include <vector>

namespace nnc {

// A weight viewed as [outer, reduce, inner]: element (o, r, i) is at (o * reduce + r) * inner + i.
// `reduce` is the axis a matrix multiply sums over (the layer's input features).
struct ReductionLayout {
  int64_t outer = 1, reduce = 1, inner = 1;
};

// Marks (1) the k elements with the lowest scores over all arrays together. Among equal scores,
// an earlier array, then a lower index, goes first; NaN scores rank above every number.
std::vector<std::vector<uint8_t>> lowestScoring(const std::vector<const std::vector<double>*>& scores, int64_t k);

// Per output: for every output neuron (o, i), marks the k lowest-scoring of its `reduce` input
// weights (o, 0..reduce-1, i) (ties: lower index), so every output keeps the same fraction.
std::vector<uint8_t> perOutputMask(const std::vector<double>& scores, const ReductionLayout& layout, int64_t k);

// N:M: splits the reduction axis into runs of m consecutive elements (layout.reduce must be a
// multiple of m) and marks the m - n lowest-scoring elements of every run (ties: lower index).
std::vector<uint8_t> nmMask(const std::vector<double>& scores, const ReductionLayout& layout, int64_t n, int64_t m);

}  // namespace nnc

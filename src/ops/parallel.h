// parallelFor: the kernels' one way to split a loop over threads, with a work threshold so tiny loops
// stay on the calling thread (waking a thread costs microseconds; under load, far more).
#pragma once

#include <omp.h>

#include <cstdint>

namespace nnc::ops {

// Below this much estimated work (roughly: scalar operations) a loop runs serially.
inline constexpr int64_t kMinParallelWork = 1 << 16;

// Calls fn(i) for i in [0, n); in parallel when n * work_per_item >= kMinParallelWork, there is more
// than one item and we are not already inside a parallel region. Static schedule: items are similar.
template <typename F>
void parallelFor(int64_t n, int64_t work_per_item, F&& fn) {
  const bool parallel = n > 1 && n * work_per_item >= kMinParallelWork && omp_get_max_threads() > 1 && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < n; ++i) fn(i);
}

}  // namespace nnc::ops

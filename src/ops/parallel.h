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
// Calls fn(i) for i in [0, n), in parallel (static schedule) when `parallel`. The serial case
// never enters an OpenMP region: `#pragma omp parallel if (false)` still builds a one-thread team
// (~0.5 us of CPU per region here), which adds up over the hundreds of tiny ops of a batch-1 run.
template <typename F>
void parallelForIf(bool parallel, int64_t n, F&& fn) {
  if (!parallel || n <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) fn(i);
}

template <typename F>
void parallelFor(int64_t n, int64_t work_per_item, F&& fn) {
  const bool parallel = n > 1 && n * work_per_item >= kMinParallelWork && omp_get_max_threads() > 1 && !omp_in_parallel();
  parallelForIf(parallel, n, fn);
}

}  // namespace nnc::ops

// NNC_PARALLEL_FOR_IF(cond, for (...) ...): the for statement as an OpenMP parallel for
// (static schedule) when `cond`, else as a plain loop that never enters an OpenMP region (see
// parallelForIf). For loops whose body stays a plain statement (vectorized maps, `continue`).
#define NNC_PARALLEL_FOR_IF(cond, ...)               \
  do {                                               \
    if (cond) {                                      \
      _Pragma("omp parallel for schedule(static)") __VA_ARGS__ \
    } else {                                         \
      __VA_ARGS__                                    \
    }                                                \
  } while (0)

// Why: every kernel allocates its output. glibc serves blocks above M_MMAP_THRESHOLD (128 KiB
// until its dynamic adjustment kicks in) with a fresh mmap(), and trims the heap top back to the
// OS, so a batch-32 activation (a few MB) is page-faulted in anew on every op of every run: Relu
// on cnn_bn's [32,32,28,28] took 0.78 ms, 0.11 ms with heap reuse (BatchNormalization 1.06 ->
// 0.17 ms; the whole run ~25 -> ~19 ms at 1 thread, peak RSS unchanged at ~30 MB). ONNX Runtime
// gets the same effect from its arena. Blocks of 32 MiB and more are still mapped and unmapped
// on their own: with a 256 MiB threshold ISNet fp16's peak RSS grew from 544 to 644 MB (freed
// large blocks fragment the heap), with 32 MiB 576 MB.
#include "allocator_env.h"

#include <cstdlib>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace nnc {
namespace {

constexpr int kMmapThreshold = 32 << 20;  // bytes
constexpr int kTrimThreshold = 64 << 20;   // free bytes at the heap top before it is given back

}  // namespace

std::string tuneTensorAllocator() {
  static std::once_flag once;
  static std::string setting = "glibc defaults";
  std::call_once(once, [] {
#if defined(__GLIBC__)
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) {
      setting = "the user's MALLOC_*_THRESHOLD_";
      return;
    }
    if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1)
      setting = "M_MMAP_THRESHOLD=32 MiB, M_TRIM_THRESHOLD=64 MiB (nncompress default)";
#endif
  });
  return setting;
}

}  // namespace nnc

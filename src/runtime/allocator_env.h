// glibc malloc settings for the runtime's tensors (see allocator_env.cpp).
#pragma once

#include <string>

namespace nnc {

// Once per process: keeps tensors below 32 MiB in malloc's heap instead of fresh mmap()s, unless
// the user set MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_. Returns the setting, for logs.
std::string tuneTensorAllocator();

}  // namespace nnc

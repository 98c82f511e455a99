// OpenMP's wait policy for nncompress's kernels: a short spin, then sleep (see openmp_env.cpp).
#pragma once

#include <string>

namespace nnc {

// How the OpenMP worker threads wait between parallel regions, for logs: "GOMP_SPINCOUNT=1000 (nncompress
// default)" or the user's own OMP_WAIT_POLICY / GOMP_SPINCOUNT setting.
std::string openMpWaitPolicy();

}  // namespace nnc

// Sets OpenMP's wait policy before the OpenMP runtime starts, unless the user chose one.
//
// Why: libgomp's idle workers spin up to 300,000 iterations (~1 ms) waiting for the next parallel
// region. On a loaded machine (more runnable threads than cores) that spinning takes the cores the
// threads doing real work need: a 0.5 ms model took 90-160 ms at 2 threads, 1-2 ms with
// OMP_WAIT_POLICY=passive or GOMP_SPINCOUNT=1000 (tools/bench/ort_speed.sh, load 9 on 2 cores).
// A 1,000-iteration spin (a few microseconds) still catches back-to-back regions on an idle machine.
//
// libgomp reads the variables once, in its own constructor. The build links libgomp statically
// (src/CMakeLists.txt) so that this constructor, with an early priority, runs before it; with a
// shared libgomp (or another OpenMP runtime) the setting still reaches child processes only, and the
// user's environment variables are the way to choose.
#include "openmp_env.h"

#include <cstdlib>

namespace nnc {
namespace {

constexpr const char* kDefaultSpinCount = "1000";
bool g_default_applied = false;

__attribute__((constructor(101))) void applyOpenMpWaitDefault() {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  g_default_applied = setenv("GOMP_SPINCOUNT", kDefaultSpinCount, 0) == 0;
}

}  // namespace

std::string openMpWaitPolicy() {
  if (g_default_applied) return std::string("GOMP_SPINCOUNT=") + kDefaultSpinCount + " (nncompress default)";
  std::string s;
  for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"})
    if (const char* v = std::getenv(name)) s += (s.empty() ? "" : " ") + std::string(name) + "=" + v;
  return s.empty() ? "OpenMP runtime default" : s + " (from the environment)";
}

}  // namespace nnc

// Progress reporting (see progress.h).
#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace nnc::cli {

Progress::Progress(std::string label, int64_t total, bool quiet)
    : label_(std::move(label)), total_(total), quiet_(quiet), terminal_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()), last_print_(start_) {}

Progress::~Progress() { finish(); }

void Progress::update(int64_t done, const std::string& extra) {
  if (quiet_ || total_ <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double fraction = static_cast<double>(done) / static_cast<double>(total_);
  const double eta = fraction > 0 ? elapsed / fraction - elapsed : 0;
  if (terminal_) {
    if (std::chrono::duration<double>(now - last_print_).count() < 0.1 && done < total_) return;
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    std::fprintf(stderr, "\r%s [%s%s] %lld/%lld %s ETA %.0fs   ", label_.c_str(), std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), '.').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), extra.c_str(), eta);
    std::fflush(stderr);
  } else {
    const int64_t decile = static_cast<int64_t>(fraction * 10);
    const bool slow = std::chrono::duration<double>(now - last_print_).count() >= 10;
    if (decile == last_decile_ && !slow) return;
    last_decile_ = decile;
    std::fprintf(stderr, "%s: %lld/%lld (%.0f%%) %s %.1fs\n", label_.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), 100 * fraction, extra.c_str(), elapsed);
  }
  last_print_ = now;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!quiet_ && terminal_ && total_ > 0) std::fprintf(stderr, "\n");
}

}  // namespace nnc::cli

// Progress reporting on stderr: a redrawn bar on a terminal, a plain line every 10% (or 10 s)
// otherwise, nothing with -q.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace nnc::cli {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool quiet);
  ~Progress();
  // Sets the done count; `extra` is shown after the counts (e.g. "top-1 91.2%").
  void update(int64_t done, const std::string& extra = "");
  void finish();

 private:
  std::string label_;
  int64_t total_;
  bool quiet_, terminal_, finished_ = false;
  int64_t last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace nnc::cli

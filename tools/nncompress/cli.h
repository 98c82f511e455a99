// Shared pieces of the nncompress CLI: global options, exit codes, output helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "nncompress/support/status.h"

namespace nnc::cli {

// Documented in docs/cli.md; scripts rely on these numbers.
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,      // a bug in nncompress
  kExitUsage = 2,         // bad command line
  kExitInvalidInput = 3,  // the model or data file is invalid
  kExitUnsupported = 4,   // valid input that nncompress cannot handle
  kExitIo = 5,            // a file cannot be read or written
  kExitOutputExists = 6,  // the output exists and --force was not given
  kExitGateFailed = 7,    // pipeline --fail-if: a quality gate failed (all outputs written)
};

struct GlobalOptions {
  int verbosity = 0;  // -v raises, -q lowers
  bool quiet = false;
  int threads = 0;    // 0: all cores
  uint64_t seed = 0;
  std::string output;
  bool force = false;
  bool json = false;
};

int exitCodeFor(ErrorCode code);

// Prints "nncompress: error: <message>" on stderr and returns the matching exit code.
int reportError(const Status& status);

// Prints JSON (indented) on stdout.
void printJson(const nlohmann::ordered_json& value);

// "1.2 MB", "340 KB", "12 B".
std::string formatBytes(uint64_t bytes);
// "1,234,567"
std::string formatCount(int64_t count);

// A subcommand: registered with the app; run() is called when it was chosen.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command addInspectCommand(CLI::App& root, GlobalOptions& global);
Command addConvertCommand(CLI::App& root, GlobalOptions& global);
Command addRunCommand(CLI::App& root, GlobalOptions& global);
Command addEvalCommand(CLI::App& root, GlobalOptions& global);
Command addCompareCommand(CLI::App& root, GlobalOptions& global);
Command addBenchCommand(CLI::App& root, GlobalOptions& global);
Command addCanonicalizeCommand(CLI::App& root, GlobalOptions& global);
Command addPruneCommand(CLI::App& root, GlobalOptions& global);
Command addCalibrateCommand(CLI::App& root, GlobalOptions& global);
Command addQuantizeCommand(CLI::App& root, GlobalOptions& global);
Command addFinetuneCommand(CLI::App& root, GlobalOptions& global);
Command addPipelineCommand(CLI::App& root, GlobalOptions& global);
Command addRecommendCommand(CLI::App& root, GlobalOptions& global);
Command addBatchCommand(CLI::App& root, GlobalOptions& global);

}  // namespace nnc::cli

// nncompress: one binary, one subcommand per job. Parses flags and calls the library.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <vector>

#include "cli.h"

using namespace nnc::cli;

namespace {

void setupLogging(const GlobalOptions& global) {
  auto logger = spdlog::stderr_color_mt("nncompress");
  logger->set_pattern("%^[%l]%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::level::level_enum level = spdlog::level::info;
  if (global.quiet) level = spdlog::level::err;
  else if (global.verbosity == 1) level = spdlog::level::debug;
  else if (global.verbosity >= 2) level = spdlog::level::trace;
  spdlog::set_level(level);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nncompress: make neural networks smaller and faster (ONNX in, ONNX out).\n"
               "Exit codes: 0 ok, 1 internal error, 2 usage, 3 invalid input, 4 unsupported,\n"
               "5 I/O error, 6 output exists, 7 quality gate failed (see docs/cli.md)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("nncompress ") + NNC_VERSION);
  GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbosity, "More log output (-vv for trace)");
  app.add_flag("-q,--quiet", global.quiet, "Only errors on stderr");
  app.add_option("--threads", global.threads, "Threads for computation (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", global.seed, "Seed for everything random (same seed, same output)");
  app.add_flag("--force", global.force, "Replace existing output files");
  app.add_flag("--json", global.json, "Machine-readable JSON on stdout");
  app.fallthrough();

  std::vector<Command> commands;
  commands.push_back(addInspectCommand(app, global));
  commands.push_back(addConvertCommand(app, global));
  commands.push_back(addRunCommand(app, global));
  commands.push_back(addEvalCommand(app, global));
  commands.push_back(addCompareCommand(app, global));
  commands.push_back(addBenchCommand(app, global));
  commands.push_back(addCanonicalizeCommand(app, global));
  commands.push_back(addPruneCommand(app, global));
  commands.push_back(addCalibrateCommand(app, global));
  commands.push_back(addQuantizeCommand(app, global));
  commands.push_back(addFinetuneCommand(app, global));
  commands.push_back(addPipelineCommand(app, global));
  commands.push_back(addRecommendCommand(app, global));
  commands.push_back(addBatchCommand(app, global));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  setupLogging(global);
  try {
    for (const Command& command : commands)
      if (command.app->parsed()) return command.run();
  } catch (const nnc::InternalError& e) {
    std::cerr << "nncompress: " << e.what() << "\n";
    return kExitInternal;
  } catch (const std::bad_alloc&) {
    std::cerr << "nncompress: error: out of memory\n";
    return kExitInternal;
  } catch (const std::exception& e) {
    std::cerr << "nncompress: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
  return kExitUsage;
}

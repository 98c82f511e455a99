// `nncompress prune MODEL -o OUT --sparsity S`: pruning. Unstructured granularities (weight,
// n:m) run the prune-weights pass; structured ones (channel, neuron, head) run prune-channels.
// --sparse-storage then stores tensors that became mostly zero as sparse initializers.
// See docs/pruning.md for when to use which option.
#include <chrono>
#include <cstdio>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/analysis/model_summary.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/pass.h"
#include "progress.h"

namespace nnc::cli {
namespace {

struct PruneOptions {
  std::string model;
  double sparsity = -1;  // -1: not given
  std::string granularity = "weight";
  std::string nm;  // "N:M"
  std::string importance;
  std::string scope = "layer";
  std::vector<std::string> exclude;
  int64_t min_channels = -1;  // -1: not given
  bool dry_run = false;
  bool sparse_storage = false;
  bool prune_first_last = false;
  DataCliOptions data;
};

bool isStructured(const std::string& granularity) {
  return granularity == "channel" || granularity == "neuron" || granularity == "head";
}

// The pass and its options for the command line; usage errors name the flag.
Expected<PassSpec> passSpecFor(const PruneOptions& o) {
  PassSpec spec;
  const bool structured = isStructured(o.granularity);
  if (!structured && o.granularity != "weight" && o.granularity != "n:m")
    return invalidArgument("--granularity " + o.granularity + ": must be weight, n:m, channel, neuron or head");
  if (!o.nm.empty() && o.granularity != "n:m") return invalidArgument("--nm is only for --granularity n:m");
  if (o.granularity != "n:m" && o.sparsity < 0) return invalidArgument("--sparsity is required (a fraction in [0, 1))");
  if (o.sparsity >= 0) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", o.sparsity);
    spec.options["sparsity"] = text;
  }
  std::string joined;
  for (const std::string& pattern : o.exclude) joined += (joined.empty() ? "" : "+") + pattern;
  if (!joined.empty()) spec.options["exclude"] = joined;
  spec.options["scope"] = o.scope;
  if (structured) {
    if (o.prune_first_last) return invalidArgument("--prune-first-last is only for --granularity weight or n:m");
    if (o.importance == "wanda") return invalidArgument("--importance wanda is only for --granularity weight or n:m");
    spec.name = "prune-channels";
    spec.options["granularity"] = o.granularity;
    if (!o.importance.empty()) spec.options["importance"] = o.importance;
    if (o.min_channels >= 0) spec.options["min_channels"] = std::to_string(o.min_channels);
    if (o.dry_run) spec.options["dry_run"] = "true";
    return spec;
  }
  if (o.min_channels >= 0) return invalidArgument("--min-channels is only for --granularity channel, neuron or head");
  if (o.importance == "bn-scale") return invalidArgument("--importance bn-scale is only for --granularity channel, neuron or head");
  spec.name = "prune-weights";
  spec.options["granularity"] = o.granularity;
  if (!o.importance.empty()) spec.options["importance"] = o.importance;
  if (o.prune_first_last) spec.options["prune_first_last"] = "true";
  if (o.granularity == "n:m" && !o.nm.empty()) {
    const size_t colon = o.nm.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == o.nm.size() ||
        o.nm.find_first_not_of("0123456789:") != std::string::npos)
      return invalidArgument("--nm " + o.nm + ": expected N:M, e.g. 2:4");
    spec.options["n"] = o.nm.substr(0, colon);
    spec.options["m"] = o.nm.substr(colon + 1);
  }
  if (o.data.limit > 0) spec.options["samples"] = std::to_string(o.data.limit);
  spec.options["batch_size"] = std::to_string(o.data.batch_size);
  return spec;
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", 100.0 * fraction);
  return text;
}

// The per-layer decisions of prune-weights (its "layers" statistics) as a table.
void printLayerTable(const nlohmann::ordered_json& stats) {
  if (!stats.contains("layers")) return;
  std::printf("%-36s %-14s %-18s %8s %8s  %s\n", "layer", "op", "weight shape", "before", "after", "note");
  for (const auto& row : stats["layers"]) {
    std::string shape;
    if (row.contains("shape"))
      for (const auto& d : row["shape"]) shape += (shape.empty() ? "" : "x") + std::to_string(d.get<int64_t>());
    const double before = row.value("sparsity_before", 0.0), after = row.value("sparsity_after", 0.0);
    std::printf("%-36s %-14s %-18s %8s %8s  %s\n", row["name"].get<std::string>().substr(0, 36).c_str(),
                row["op"].get<std::string>().c_str(), shape.c_str(), percent(before).c_str(), percent(after).c_str(),
                row.contains("reason") ? row["reason"].get<std::string>().c_str() : "pruned");
  }
}

int runPrune(const PruneOptions& o, const GlobalOptions& global) {
  const auto start = std::chrono::steady_clock::now();
  if (!o.dry_run && global.output.empty()) return reportError(invalidArgument("-o/--output is required (or --dry-run)"));
  auto spec = passSpecFor(o);
  if (!spec) return reportError(spec.status());
  const std::vector<std::string> known = passNames();
  if (std::find(known.begin(), known.end(), spec->name) == known.end())
    return reportError(unsupported("--granularity " + o.granularity + " needs the '" + spec->name +
                                   "' pass, which this build of nncompress does not have"));
  auto pass = createPass(*spec);
  if (!pass) return reportError(pass.status());
  auto model = loadModel(o.model);
  if (!model) return reportError(model.status());
  const ModelSummary before = summarizeModel(*model);

  PassContext context;
  context.seed = global.seed;
  context.threads = global.threads;
  std::optional<Dataset> dataset;
  std::unique_ptr<Session> session;  // only to bind the data to the model's inputs
  if (!o.data.data.empty()) {
    auto created = Session::create(*model, {global.threads, nullptr});
    if (!created) return reportError(created.status().withContext(o.model));
    session = std::move(*created);
    auto built = buildDataset(*session, o.data);
    if (!built) return reportError(built.status());
    dataset = std::move(*built);
    context.data = &*dataset;
    session.reset();  // the dataset keeps no reference to it; the pass makes its own
  }
  std::unique_ptr<Progress> progress;
  context.progress = [&](const std::string& what, int64_t done, int64_t total) {
    if (!progress) progress = std::make_unique<Progress>(what, total, global.quiet || global.json);
    progress->update(done);
  };
  auto result = (*pass)->run(*model, context);
  if (progress) progress->finish();
  if (!result) return reportError(result.status().withContext(o.model));

  nlohmann::ordered_json j;
  j["input"] = o.model;
  j["output"] = o.dry_run ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(global.output);
  j["pipeline"] = formatPipeline({*spec});
  j["stats"] = result->stats;
  if (o.sparse_storage) {
    auto storage = createPass({"sparse-storage", {}});
    if (!storage) return reportError(storage.status());
    auto stored = (*storage)->run(*model, context);
    if (!stored) return reportError(stored.status().withContext(o.model));
    j["sparse_storage"] = stored->stats;
  }
  const ModelSummary after = summarizeModel(*model);
  j["params_before"] = before.params;
  j["params_after"] = after.params;
  j["nonzero_params_before"] = before.params - before.zero_params;
  j["nonzero_params_after"] = after.params - after.zero_params;
  const double sparsity = after.params > 0 ? static_cast<double>(after.zero_params) / static_cast<double>(after.params) : 0.0;
  j["model_sparsity"] = sparsity;
  uint64_t output_bytes = 0;
  if (!o.dry_run) {
    SaveOptions save;
    save.overwrite = global.force;
    auto saved = saveModel(*model, global.output, save);
    if (!saved) return reportError(saved.status());
    output_bytes = saved->model_bytes + saved->external_bytes;
  }
  j["output_bytes"] = output_bytes;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  j["seconds"] = seconds;
  if (global.json) {
    printJson(j);
  } else if (!global.quiet) {
    if (o.dry_run && spec->name == "prune-weights") printLayerTable(result->stats);
    const std::string target = o.dry_run ? std::string("(dry run, nothing written)") : "-> " + global.output + " (" + formatBytes(output_bytes) + ")";
    std::printf("pruned %s %s: params %s -> %s, nonzero %s -> %s, model sparsity %s; %s (%.2f s)\n", o.model.c_str(), target.c_str(),
                formatCount(before.params).c_str(), formatCount(after.params).c_str(),
                formatCount(before.params - before.zero_params).c_str(), formatCount(after.params - after.zero_params).c_str(),
                percent(sparsity).c_str(), result->summary.c_str(), seconds);
  }
  return kExitOk;
}

}  // namespace

Command addPruneCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<PruneOptions>();
  CLI::App* app = root.add_subcommand("prune", "Prune weights (unstructured, N:M) or channels/neurons/heads (structured)");
  app->add_option("model", options->model, "The input .onnx model")->required();
  app->add_option("-o,--output", global.output, "Output .onnx path (not needed with --dry-run)");
  app->add_option("--sparsity", options->sparsity, "Fraction of weights (or channels) to remove, in [0, 1); implied by --nm for n:m")
      ->check(CLI::Range(0.0, 1.0));
  app->add_option("--granularity", options->granularity, "weight | n:m | channel | neuron | head (default weight)");
  app->add_option("--nm", options->nm, "N:M for --granularity n:m: keep N of every M input-feature weights (default 2:4)");
  app->add_option("--importance", options->importance,
                  "l1 | l2 | wanda (weight, n:m; default l1) or l1 | l2 | bn-scale (channel, neuron, head)");
  app->add_option("--scope", options->scope,
                  "layer: the same sparsity in every layer; global: one ranking over all layers; output: the same sparsity "
                  "for every output neuron (weight granularity)")
      ->check(CLI::IsMember({"layer", "global", "output"}));
  app->add_option("--exclude", options->exclude, "Keep layers whose node name or op type matches this glob (repeatable)");
  app->add_flag("--prune-first-last", options->prune_first_last, "Also prune the first and last layers (kept by default; weight, n:m)");
  app->add_option("--min-channels", options->min_channels, "Structured: keep at least K channels in every layer")
      ->check(CLI::NonNegativeNumber);
  app->add_flag("--dry-run", options->dry_run, "Show what would be pruned; write nothing");
  app->add_flag("--sparse-storage", options->sparse_storage,
                "Store mostly-zero weights as ONNX sparse initializers where that makes the file smaller");
  addDataOptions(app, options->data, false);
  app->get_option("--data")->required(false)->description("Calibration samples for --importance wanda: [INPUT=]PATH (see docs/data.md)");
  app->get_option("--limit")->description("Calibration samples to use (0: all)");
  return {app, [options, &global]() -> int { return runPrune(*options, global); }};
}

}  // namespace nnc::cli

// Recipes: a pipeline written as a file (YAML or JSON) instead of `--passes` text, e.g.
//   passes:
//     - canonicalize
//     - prune-channels: {granularity: neuron, sparsity: 0.5}
//     - finetune: {epochs: 4, limit: 30000}
//     - quantize: {calib: percentile, exclude: ["/head/*", Softmax]}
//   fail_if:
//     - accuracy_drop > 1.0
// Option values are scalars (written back as text: 0.5, true, uint8) or lists of scalars (joined
// with '+', as pipeline text writes several patterns). Unknown top-level keys are errors.
// Schema: docs/pipeline.md, "Recipes".
#pragma once

#include <string>
#include <vector>

#include "nncompress/passes/pass.h"

namespace nnc {

struct Recipe {
  std::vector<PassSpec> passes;
  std::vector<std::string> fail_if;  // quality gates, as --fail-if takes them
};

// Reads a recipe file: YAML for .yaml/.yml, JSON for .json (other names: JSON if it parses as
// JSON, else YAML). Errors name the file and the entry.
Expected<Recipe> loadRecipe(const std::string& path);
// The same from text, for tests and other callers; `yaml` picks the parser.
Expected<Recipe> parseRecipe(const std::string& text, bool yaml, const std::string& source_name);

}  // namespace nnc

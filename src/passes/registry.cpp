// The list of passes: name -> constructor. One line per pass (see docs/architecture.md).
#include "nncompress/passes/pass.h"

namespace nnc {

Expected<std::unique_ptr<Pass>> createCanonicalizePass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createConvertFloatPass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createQuantizeDynamicPass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createQuantizeWeightsPass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createPruneChannelsPass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createPruneWeightsPass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createSparseStoragePass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createQuantizePass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createFinetunePass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createCrossLayerEqualizationPass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createSmoothQuantPass(const PassSpec& spec);
Expected<std::unique_ptr<Pass>> createBiasCorrectionPass(const PassSpec& spec);

namespace {

struct PassEntry {
  const char* name;
  Expected<std::unique_ptr<Pass>> (*create)(const PassSpec&);
};

constexpr PassEntry kPasses[] = {
    {"canonicalize", createCanonicalizePass},
    {"convert-float", createConvertFloatPass},
    {"quantize-dynamic", createQuantizeDynamicPass},
    {"quantize-weights", createQuantizeWeightsPass},
    {"prune-channels", createPruneChannelsPass},
    {"prune-weights", createPruneWeightsPass},
    {"sparse-storage", createSparseStoragePass},
    {"quantize", createQuantizePass},
    {"finetune", createFinetunePass},
    {"cross-layer-equalization", createCrossLayerEqualizationPass},
    {"smoothquant", createSmoothQuantPass},
    {"bias-correction", createBiasCorrectionPass},
};

}  // namespace

Expected<std::unique_ptr<Pass>> createPass(const PassSpec& spec) {
  for (const PassEntry& entry : kPasses)
    if (spec.name == entry.name) return entry.create(spec);
  std::string known;
  for (const PassEntry& entry : kPasses) known += (known.empty() ? "" : ", ") + std::string(entry.name);
  return invalidArgument("unknown pass '" + spec.name + "' (passes: " + known + ")");
}

std::vector<std::string> passNames() {
  std::vector<std::string> names;
  for (const PassEntry& entry : kPasses) names.push_back(entry.name);
  return names;
}

}  // namespace nnc

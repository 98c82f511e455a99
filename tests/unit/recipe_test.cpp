// Recipes (src/pipeline/recipe.cpp): YAML and JSON spell the same pipeline as the --passes text,
// option values become the text the passes parse, and mistakes are one-line errors naming the
// entry.
#include <gtest/gtest.h>

#include "nncompress/pipeline/recipe.h"

namespace nnc {
namespace {

const char* kYaml = R"(
# prune, fine-tune, quantize
passes:
  - canonicalize
  - prune-channels: {granularity: neuron, sparsity: 0.5}
  - finetune:
      epochs: 2
      lr: 0.001
  - quantize: {exclude: ["/fc3/*", Softmax], per_channel: false}
fail_if:
  - accuracy_drop > 1.0
  - size_ratio > 0.125
)";

const char* kJson = R"({
  "passes": ["canonicalize",
             {"prune-channels": {"granularity": "neuron", "sparsity": 0.5}},
             {"finetune": {"epochs": 2, "lr": 0.001}},
             {"quantize": {"exclude": ["/fc3/*", "Softmax"], "per_channel": false}}],
  "fail_if": ["accuracy_drop > 1.0", "size_ratio > 0.125"]
})";

const char* kText = "canonicalize,prune-channels{granularity=neuron,sparsity=0.5},finetune{epochs=2,lr=0.001},"
                    "quantize{exclude=/fc3/*+Softmax,per_channel=false}";

TEST(Recipe, YamlAndJsonSpellTheSamePipelineAsText) {
  auto yaml = parseRecipe(kYaml, true, "r.yaml");
  ASSERT_TRUE(yaml.isOk()) << yaml.status().message();
  auto json = parseRecipe(kJson, false, "r.json");
  ASSERT_TRUE(json.isOk()) << json.status().message();
  auto text = parsePipeline(kText);
  ASSERT_TRUE(text.isOk());
  EXPECT_EQ(formatPipeline(yaml->passes), formatPipeline(*text));
  EXPECT_EQ(formatPipeline(json->passes), formatPipeline(*text));
  const std::vector<std::string> gates = {"accuracy_drop > 1.0", "size_ratio > 0.125"};
  EXPECT_EQ(yaml->fail_if, gates);
  EXPECT_EQ(json->fail_if, gates);
  // Every pass of the recipe is one the registry builds with these options.
  for (const PassSpec& spec : yaml->passes) EXPECT_TRUE(createPass(spec).isOk()) << spec.name;
}

TEST(Recipe, MistakesNameTheEntry) {
  struct Case {
    const char* text;
    bool yaml;
    const char* message;
  };
  const Case cases[] = {
      {"passes: []", true, "'passes' must be a non-empty list"},
      {"steps: [canonicalize]", true, "unknown key 'steps'"},
      {"passes: [{quantize: 3}]", true, "passes[0] (quantize): options must be a mapping"},
      {"passes: [{quantize: {exclude: [[a]]}}]", true, "passes[0] (quantize.exclude): list items must be plain values"},
      {"passes: [{a: {}, b: {}}]", true, "passes[0]: a pass is a name, or a one-key mapping"},
      {"passes: [canonicalize\n", true, "YAML error at line"},
      {"{\"passes\": [\"canonicalize\"],}", false, "not valid JSON"},
      {"{\"passes\": [\"canonicalize\"], \"fail_if\": [1]}", false, "'fail_if' items must be conditions"},
  };
  for (const Case& c : cases) {
    auto r = parseRecipe(c.text, c.yaml, "recipe.txt");
    ASSERT_FALSE(r.isOk()) << c.text;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("recipe.txt"), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(loadRecipe("/nonexistent/r.yaml").status().code(), ErrorCode::kIo);
}

}  // namespace
}  // namespace nnc

// See recipe.h. Both formats are read into one JSON value (YAML through yaml-cpp, scalars kept
// as their text), then checked and turned into PassSpecs in one place.
#include "nncompress/pipeline/recipe.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace nnc {
namespace {

using Json = nlohmann::ordered_json;

// YAML -> JSON with every scalar as a string: a recipe's values are pass options, which are text.
Expected<Json> yamlToJson(const YAML::Node& node, const std::string& where) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return Json(nullptr);
    case YAML::NodeType::Scalar: return Json(node.Scalar());
    case YAML::NodeType::Sequence: {
      Json array = Json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        NNC_ASSIGN_OR_RETURN(Json item, yamlToJson(node[i], where + "[" + std::to_string(i) + "]"));
        array.push_back(std::move(item));
      }
      return array;
    }
    case YAML::NodeType::Map: {
      Json object = Json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) return invalidArgument(where + ": keys must be plain names");
        const std::string key = entry.first.Scalar();
        NNC_ASSIGN_OR_RETURN(Json value, yamlToJson(entry.second, where + "." + key));
        object[key] = std::move(value);
      }
      return object;
    }
    default: return invalidArgument(where + ": unsupported YAML node");
  }
}

// An option value as pipeline text: scalars as written, lists joined with '+'.
Expected<std::string> optionText(const Json& value, const std::string& where) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return std::string(value.get<bool>() ? "true" : "false");
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_number()) {
    std::ostringstream text;
    text.precision(17);
    text << value.get<double>();
    return text.str();
  }
  if (value.is_array()) {
    std::string joined;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i].is_array() || value[i].is_object()) return invalidArgument(where + ": list items must be plain values");
      NNC_ASSIGN_OR_RETURN(std::string item, optionText(value[i], where));
      joined += (joined.empty() ? "" : "+") + item;
    }
    return joined;
  }
  return invalidArgument(where + ": an option value must be a number, a word or a list of them");
}

Expected<PassSpec> passFrom(const Json& entry, const std::string& where) {
  PassSpec spec;
  if (entry.is_string()) {
    spec.name = entry.get<std::string>();
  } else if (entry.is_object() && entry.size() == 1) {
    spec.name = entry.begin().key();
    const Json& options = entry.begin().value();
    if (!options.is_null()) {
      if (!options.is_object()) return invalidArgument(where + " (" + spec.name + "): options must be a mapping of name: value");
      for (auto it = options.begin(); it != options.end(); ++it) {
        NNC_ASSIGN_OR_RETURN(spec.options[it.key()], optionText(it.value(), where + " (" + spec.name + "." + it.key() + ")"));
      }
    }
  } else {
    return invalidArgument(where + ": a pass is a name, or a one-key mapping name: {options}");
  }
  if (spec.name.empty()) return invalidArgument(where + ": empty pass name");
  return spec;
}

Expected<Recipe> recipeFrom(const Json& root) {
  if (!root.is_object()) return invalidArgument("a recipe is a mapping with 'passes' (and optionally 'fail_if')");
  for (auto it = root.begin(); it != root.end(); ++it)
    if (it.key() != "passes" && it.key() != "fail_if")
      return invalidArgument("unknown key '" + it.key() + "' (a recipe has 'passes' and 'fail_if')");
  if (!root.contains("passes") || !root["passes"].is_array() || root["passes"].empty())
    return invalidArgument("'passes' must be a non-empty list");
  Recipe recipe;
  for (size_t i = 0; i < root["passes"].size(); ++i) {
    NNC_ASSIGN_OR_RETURN(PassSpec spec, passFrom(root["passes"][i], "passes[" + std::to_string(i) + "]"));
    recipe.passes.push_back(std::move(spec));
  }
  if (root.contains("fail_if")) {
    const Json& gates = root["fail_if"];
    if (gates.is_string()) {
      recipe.fail_if.push_back(gates.get<std::string>());
    } else if (gates.is_array()) {
      for (const Json& g : gates) {
        if (!g.is_string()) return invalidArgument("'fail_if' items must be conditions such as 'accuracy_drop > 1.0'");
        recipe.fail_if.push_back(g.get<std::string>());
      }
    } else if (!gates.is_null()) {
      return invalidArgument("'fail_if' must be a condition or a list of them");
    }
  }
  return recipe;
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Expected<Recipe> parseRecipe(const std::string& text, bool yaml, const std::string& source_name) {
  Json root;
  if (yaml) {
    try {
      YAML::Node node = YAML::Load(text);
      auto converted = yamlToJson(node, "recipe");
      if (!converted) return converted.status().withContext(source_name);
      root = std::move(converted).value();
    } catch (const YAML::Exception& e) {
      return invalidArgument(source_name + ": YAML error at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
  } else {
    root = Json::parse(text, nullptr, false);
    if (root.is_discarded()) return invalidArgument(source_name + ": not valid JSON");
  }
  auto recipe = recipeFrom(root);
  if (!recipe) return recipe.status().withContext(source_name);
  return recipe;
}

Expected<Recipe> loadRecipe(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status(ErrorCode::kIo, path + ": cannot read the recipe");
  std::ostringstream buffer;
  buffer << file.rdbuf();
  const std::string text = buffer.str();
  if (endsWith(path, ".yaml") || endsWith(path, ".yml")) return parseRecipe(text, true, path);
  if (endsWith(path, ".json")) return parseRecipe(text, false, path);
  if (!Json::parse(text, nullptr, false).is_discarded()) return parseRecipe(text, false, path);
  return parseRecipe(text, true, path);
}

}  // namespace nnc

// Parsing and evaluation of --fail-if quality gates (see quality_gate.h).
#include "nncompress/pipeline/quality_gate.h"

#include <algorithm>
#include <sstream>

namespace nnc {

const std::vector<std::string>& gateMetricNames() {
  static const std::vector<std::string> names = {"accuracy_drop", "agreement", "size_ratio", "latency_ratio"};
  return names;
}

Expected<QualityGate> parseQualityGate(const std::string& text) {
  QualityGate gate;
  gate.text = text;
  // Spaces around operators are optional: split them off before tokenizing.
  std::string spaced;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '<' || c == '>') {
      const bool with_eq = i + 1 < text.size() && text[i + 1] == '=';
      spaced += std::string(" ") + c + (with_eq ? "=" : "") + " ";
      i += with_eq;
    } else {
      spaced += c;
    }
  }
  std::vector<std::string> tokens;
  std::istringstream stream(spaced);
  for (std::string t; stream >> t;) tokens.push_back(t);
  auto fail = [&](const std::string& why) { return invalidArgument("--fail-if '" + text + "': " + why); };
  if (tokens.empty()) return fail("empty condition");
  gate.any_of.emplace_back();
  size_t i = 0;
  while (true) {
    if (i + 3 > tokens.size()) return fail("expected METRIC OP NUMBER");
    GateCondition c;
    c.metric = tokens[i];
    c.op = tokens[i + 1];
    const auto& names = gateMetricNames();
    if (std::find(names.begin(), names.end(), c.metric) == names.end())
      return fail("unknown metric '" + c.metric + "' (metrics: accuracy_drop, agreement, size_ratio, latency_ratio)");
    if (c.op != ">" && c.op != "<" && c.op != ">=" && c.op != "<=") return fail("expected > < >= or <= after " + c.metric);
    try {
      size_t used = 0;
      c.threshold = std::stod(tokens[i + 2], &used);
      if (used != tokens[i + 2].size()) return fail("'" + tokens[i + 2] + "' is not a number");
    } catch (const std::exception&) {
      return fail("'" + tokens[i + 2] + "' is not a number");
    }
    gate.any_of.back().push_back(c);
    i += 3;
    if (i == tokens.size()) return gate;
    if (tokens[i] == "or") gate.any_of.emplace_back();
    else if (tokens[i] != "and") return fail("expected 'and' or 'or', got '" + tokens[i] + "'");
    ++i;
  }
}

Expected<bool> gateHolds(const QualityGate& gate, const std::map<std::string, double>& values) {
  bool any = false;
  for (const auto& conjunction : gate.any_of) {
    bool all = true;
    for (const GateCondition& c : conjunction) {
      auto it = values.find(c.metric);
      if (it == values.end())
        return invalidArgument("--fail-if '" + gate.text + "': " + c.metric + " is not measured (accuracy_drop needs --labels)");
      const double v = it->second;
      const bool holds = c.op == ">" ? v > c.threshold : c.op == "<" ? v < c.threshold : c.op == ">=" ? v >= c.threshold : v <= c.threshold;
      all = all && holds;
    }
    any = any || all;
  }
  return any;
}

}  // namespace nnc

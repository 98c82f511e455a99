// Quality gates for CI: conditions such as "accuracy_drop > 1.0 or size_ratio > 0.3" on the
// pipeline's final model compared with the original. A gate that holds means failure.
// Grammar: expr := term ('or' term)*   term := cond ('and' cond)*   cond := METRIC OP NUMBER
// with OP one of > < >= <= and METRIC one of gateMetricNames().
#pragma once

#include <map>
#include <string>
#include <vector>

#include "nncompress/support/status.h"

namespace nnc {

struct GateCondition {
  std::string metric;
  std::string op;
  double threshold = 0;
};

// Disjunction of conjunctions.
struct QualityGate {
  std::string text;
  std::vector<std::vector<GateCondition>> any_of;
};

// accuracy_drop (points), agreement (%), size_ratio, latency_ratio.
const std::vector<std::string>& gateMetricNames();

Expected<QualityGate> parseQualityGate(const std::string& text);

// Whether the gate holds for `values` (metric name -> value). A metric missing from `values`
// (e.g. accuracy_drop without labels) is an error naming it.
Expected<bool> gateHolds(const QualityGate& gate, const std::map<std::string, double>& values);

}  // namespace nnc

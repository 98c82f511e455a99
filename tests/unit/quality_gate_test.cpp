// --fail-if quality gates: parsing (spaces optional, errors naming the problem), 'and' binding
// tighter than 'or', each comparison at and around its threshold, and missing metrics.
#include <gtest/gtest.h>

#include "nncompress/pipeline/quality_gate.h"

namespace nnc {
namespace {

bool holds(const std::string& text, const std::map<std::string, double>& values) {
  auto gate = parseQualityGate(text);
  EXPECT_TRUE(gate.isOk()) << gate.status().message();
  auto result = gateHolds(*gate, values);
  EXPECT_TRUE(result.isOk()) << result.status().message();
  return *result;
}

TEST(QualityGate, ComparisonsAtAndAroundTheThreshold) {
  const std::map<std::string, double> v = {{"accuracy_drop", 1.0}, {"size_ratio", 0.25}};
  EXPECT_FALSE(holds("accuracy_drop > 1.0", v));
  EXPECT_TRUE(holds("accuracy_drop >= 1.0", v));
  EXPECT_TRUE(holds("accuracy_drop > 0.999", v));
  EXPECT_FALSE(holds("accuracy_drop < 1", v));
  EXPECT_TRUE(holds("accuracy_drop <= 1", v));
  EXPECT_TRUE(holds("size_ratio<0.3", v));
  EXPECT_FALSE(holds("size_ratio>=0.3", v));
}

TEST(QualityGate, AndBindsTighterThanOr) {
  const std::map<std::string, double> v = {{"accuracy_drop", 2}, {"size_ratio", 0.5}, {"agreement", 95}, {"latency_ratio", 1.2}};
  // true or (false and true) = true; (true or false) and false would be false.
  EXPECT_TRUE(holds("accuracy_drop > 1 or size_ratio > 0.9 and agreement < 99", v));
  EXPECT_FALSE(holds("accuracy_drop > 5 or size_ratio > 0.9 and agreement < 99", v));
  EXPECT_FALSE(holds("accuracy_drop > 1 and latency_ratio > 2", v));
  EXPECT_TRUE(holds("accuracy_drop > 1 and latency_ratio > 1.1", v));
  auto gate = parseQualityGate("accuracy_drop > 1 or size_ratio > 0.9 and agreement < 99");
  ASSERT_TRUE(gate.isOk());
  ASSERT_EQ(gate->any_of.size(), 2u);
  EXPECT_EQ(gate->any_of[0].size(), 1u);
  EXPECT_EQ(gate->any_of[1].size(), 2u);
  EXPECT_EQ(gate->any_of[1][1].metric, "agreement");
  EXPECT_EQ(gate->any_of[1][1].op, "<");
  EXPECT_EQ(gate->any_of[1][1].threshold, 99);
}

TEST(QualityGate, ErrorsNameTheProblem) {
  auto expectError = [](const std::string& text, const std::string& part) {
    auto gate = parseQualityGate(text);
    ASSERT_FALSE(gate.isOk()) << text;
    EXPECT_NE(gate.status().message().find(part), std::string::npos) << gate.status().message();
  };
  expectError("", "empty");
  expectError("speed > 1", "unknown metric 'speed'");
  expectError("size_ratio = 1", "expected > < >= or <=");
  expectError("size_ratio > big", "'big' is not a number");
  expectError("size_ratio > 1 nor agreement < 2", "expected 'and' or 'or'");
  expectError("size_ratio > 1 and", "expected METRIC OP NUMBER");
  auto gate = parseQualityGate("accuracy_drop > 1");
  ASSERT_TRUE(gate.isOk());
  auto missing = gateHolds(*gate, {{"size_ratio", 1}});
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find("accuracy_drop is not measured"), std::string::npos);
}

}  // namespace
}  // namespace nnc

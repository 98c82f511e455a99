// Passes: everything that changes a model is a Pass over the IR, run by a pipeline written as
// text, e.g. "canonicalize,prune{sparsity=0.5,granularity=channel},quantize{calib=entropy}".
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nncompress/ir/graph.h"

namespace nnc {

class Dataset;
struct ActivationRanges;

// One pass and its options as written in a pipeline.
struct PassSpec {
  std::string name;
  std::map<std::string, std::string> options;  // sorted: the normalized text is stable
};

// Parses "a,b{k=v,k2=v2}" (spaces allowed around tokens). Errors name the position.
Expected<std::vector<PassSpec>> parsePipeline(const std::string& text);
// The normalized text of a pipeline: no spaces, options sorted by key.
std::string formatPipeline(const std::vector<PassSpec>& specs);

// What a pass may use besides the model.
struct PassContext {
  uint64_t seed = 0;
  int threads = 0;
  const Dataset* data = nullptr;  // calibration / importance data, when given
  // Reports long work (e.g. calibration runs): (what, done, total). May be empty.
  std::function<void(const std::string&, int64_t, int64_t)> progress;
  const ActivationRanges* ranges = nullptr;  // activation ranges (a ranges file), when given
  const Dataset* train_data = nullptr;       // labeled training samples (finetune), when given
};

// What a pass did: whether the model changed, a one-line summary, and statistics for reports.
struct PassResult {
  bool changed = false;
  std::string summary;
  nlohmann::ordered_json stats = nlohmann::ordered_json::object();
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string name() const = 0;
  virtual Expected<PassResult> run(Model& model, PassContext& context) = 0;
};

// Creates a pass from its spec; unknown names and options are errors naming them.
Expected<std::unique_ptr<Pass>> createPass(const PassSpec& spec);
// Names of all passes, for help texts.
std::vector<std::string> passNames();

// Option helpers for pass constructors: each consumes the option it reads, so that
// checkNoUnknownOptions() can report leftovers.
class PassOptions {
 public:
  explicit PassOptions(const PassSpec& spec) : pass_(spec.name), options_(spec.options) {}
  Expected<double> number(const std::string& key, double fallback);
  Expected<int64_t> integer(const std::string& key, int64_t fallback);
  Expected<bool> flag(const std::string& key, bool fallback);
  std::string text(const std::string& key, const std::string& fallback);
  Status checkNoUnknownOptions() const;

 private:
  std::string pass_;
  std::map<std::string, std::string> options_;
};

}  // namespace nnc

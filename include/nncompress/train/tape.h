// The tape: runs a model forward through the runtime Session, keeping every value the
// backward needs, then propagates the gradient of a loss from the model outputs back to the
// trainable parameters (float initializers and Constant-node weights).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "nncompress/runtime/session.h"
#include "nncompress/train/backward.h"

namespace nnc::train {

class Tape {
 public:
  // Runs the session once, keeping every intermediate value of the main graph.
  static Expected<Tape> record(const Session& session, const NamedTensors& inputs);

  const std::vector<Tensor>& outputs() const { return outputs_; }
  // The value a run computed or read (graph input, initializer, node output), or nullptr.
  const Tensor* valueOf(const Value* value) const;

  // Backward from `seeds` (a gradient per seeded value, usually graph outputs) to `params`.
  // Returns one gradient per param, in the order of `params`; a param the loss does not reach
  // gets no gradient (nullopt). Fails naming the first op on the path without a backward.
  Expected<std::vector<std::optional<Grad>>> backward(const std::vector<std::pair<const Value*, Grad>>& seeds,
                                                       const std::vector<const Value*>& params) const;

 private:
  const Session* session_ = nullptr;
  std::unordered_map<const Value*, Tensor> values_;  // lookup only, never iterated into output
  std::vector<Tensor> outputs_;
};

}  // namespace nnc::train

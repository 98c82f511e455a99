// Largest finite |value| of every float tensor of a model's main graph over a dataset, streamed
// batch by batch (memory does not grow with the number of samples). Used by convert-float to
// keep in float32 the nodes whose activations would overflow float16.
#pragma once

#include <map>

#include "nncompress/data/dataset.h"
#include "nncompress/ir/graph.h"

namespace nnc {

// Runs the model on every sample of `data` (batches of `batch` samples).
Expected<std::map<const Value*, float>> observeMaxAbs(const Model& model, const Dataset& data, int64_t batch, int threads);

}  // namespace nnc

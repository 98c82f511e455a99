// Seeded random inputs for a model (bench, run without data, smoke tests). Deterministic across
// platforms: a splitmix64 stream per input, seeded from the seed and the input's name.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nncompress/runtime/session.h"

namespace nnc {

struct RandomInputOptions {
  int64_t batch = 1;                     // value for a symbolic or unknown first dimension
  std::map<std::string, int64_t> dims;   // values for named symbolic dimensions
  std::map<std::string, std::vector<int64_t>> shapes;  // whole shapes by input name (override)
  std::map<std::string, double> constants;             // inputs filled with one value
  uint64_t seed = 0;
};

// The concrete shape an input gets: fixed dims kept, the first symbolic dim = batch, other
// symbols from `dims` (else 1). Fails for inputs of unknown rank or non-tensor type.
Expected<std::vector<int64_t>> concreteShape(const Value& input, const RandomInputOptions& options);

// Floats uniform in [-1, 1); integers uniform in [0, 8); bools 0/1.
Expected<NamedTensors> randomInputs(const Session& session, const RandomInputOptions& options);
// A tensor filled with one value (e.g. a sample-rate input).
Expected<Tensor> constantTensor(DType dtype, const std::vector<int64_t>& shape, double value);
// One random tensor of a given type and shape, from a seed.
Expected<Tensor> randomTensor(DType dtype, const std::vector<int64_t>& shape, uint64_t seed);

}  // namespace nnc

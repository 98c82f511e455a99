// Datasets: where the samples for run, eval, compare, calibration and training come from.
// A Dataset binds model input names to SampleSources (arrays of N samples each), optionally
// with labels, and yields batches converted to the model's input types with preprocessing.
// Sources are read lazily (arrays are memory-mapped, images decoded per batch), so memory does
// not grow with the number of samples.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nncompress/runtime/session.h"

namespace nnc {

// N samples of one input, each of the same shape.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int64_t count() const = 0;
  virtual DType dtype() const = 0;
  virtual std::vector<int64_t> sampleShape() const = 0;
  // Samples [begin, begin + n) stacked along a new leading axis.
  virtual Expected<Tensor> read(int64_t begin, int64_t n) const = 0;
  // Where the samples come from, for messages.
  virtual std::string describe() const = 0;
};

// A whole array (first axis = samples) as a source; batches are views, no copies.
std::unique_ptr<SampleSource> arraySource(Tensor array, std::string label);

// Numeric preprocessing applied after conversion to float: x * scale, then (x - mean[c]) / std[c]
// with c the channel axis (1 for NCHW). Empty mean/std: not applied.
struct Preprocess {
  double scale = 1.0;
  std::vector<float> mean, std;
  int channel_axis = 1;
  bool any() const { return scale != 1.0 || !mean.empty() || !std.empty(); }
};

class Dataset {
 public:
  void addInput(std::string input_name, std::unique_ptr<SampleSource> source);
  void setLabels(std::vector<int64_t> labels) { labels_ = std::move(labels); }
  void setPreprocess(Preprocess preprocess) { preprocess_ = std::move(preprocess); }

  // Number of samples (all sources must agree; see validate()).
  int64_t size() const;
  const std::optional<std::vector<int64_t>>& labels() const { return labels_; }
  bool hasLabels() const { return labels_.has_value(); }
  const std::vector<std::pair<std::string, std::unique_ptr<SampleSource>>>& inputs() const { return inputs_; }

  // Checks that every feedable input of the session has a source, counts agree, and labels
  // match the sample count. Errors name the input and the source.
  Status validate(const Session& session) const;

  // Samples [begin, begin + n) as the session's inputs: converted to each input's element type
  // (integers/float16 to float with preprocessing; same type passes through).
  Expected<NamedTensors> batch(const Session& session, int64_t begin, int64_t n) const;

 private:
  std::vector<std::pair<std::string, std::unique_ptr<SampleSource>>> inputs_;
  std::optional<std::vector<int64_t>> labels_;
  Preprocess preprocess_;
};

// Converts a tensor to `target` type, applying preprocessing when the target is float.
Expected<Tensor> convertInput(const Tensor& tensor, DType target, const Preprocess& preprocess);

// Opens a data spec for a session: "PATH" (a single-input model, or a file/folder holding
// named arrays) or "NAME=PATH". PATH: .npy, .npz, a folder of ONNX test_data_set_*/input_*.pb,
// an idx file (optionally .gz), or a folder of images (see docs/data.md).
Status addDataSpec(Dataset& dataset, const Session& session, const std::string& spec);

// Labels from .npy (any integer type, shape [N] or [N,1]), idx (.gz), or text (one per line).
Expected<std::vector<int64_t>> readLabels(const std::string& path);

}  // namespace nnc

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

// How image folders become samples. Images are decoded (8-bit; 16-bit PNGs are reduced),
// resized, center-cropped and laid out as uint8 samples [C,H,W] ([H,W,C] with nhwc); the
// Dataset's conversion and Preprocess (scale, mean, std) then make them float.
struct ImageOptions {
  int resize = 0;  // scale so the shorter side has this many pixels (bilinear); 0 = keep the size
  int crop = 0;    // center crop to crop x crop after resizing; 0 = no crop
  bool nhwc = false;  // samples [H,W,C] instead of [C,H,W]
  bool bgr = false;   // channel order B,G,R instead of R,G,B (3-channel images)
  // true: 1 channel (luma); false: 3 channels (gray replicated); unset: 1 channel when every
  // image of the folder is gray, else 3. Alpha is dropped.
  std::optional<bool> grayscale;
};

// Options for opening data specs (defaults suit non-image data).
struct DataOptions {
  ImageOptions image;
};

// Opens a data spec for a session: "PATH" (a single-input model, or a file/folder holding
// named arrays) or "NAME=PATH". PATH: .npy, .npz, a folder of ONNX test_data_set_*/input_*.pb,
// an idx file (optionally .gz), or a folder of images (see docs/data.md). An image folder with
// class subfolders also sets the dataset's labels, unless it has labels already.
Status addDataSpec(Dataset& dataset, const Session& session, const std::string& spec, const DataOptions& options);
Status addDataSpec(Dataset& dataset, const Session& session, const std::string& spec);

// Labels from .npy (any integer type, shape [N] or [N,1]), idx (.gz), an image folder with
// class subfolders (see imageFolderClasses), or text (one integer per line).
Expected<std::vector<int64_t>> readLabels(const std::string& path);

// The classes of an ImageNet-style folder DIR/<class>/<image>: class names sorted by name
// (label = index in `names`) and the label of every image in sample order (the order the image
// source reads them). A flat folder of images has no classes: an error says so.
struct ImageClasses {
  std::vector<std::string> names;
  std::vector<int64_t> labels;
};
Expected<ImageClasses> imageFolderClasses(const std::string& folder);

}  // namespace nnc

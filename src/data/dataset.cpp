// Dataset batching and conversion (see dataset.h).
#include "nncompress/data/dataset.h"

#include <cstring>

#include "nncompress/ir/half.h"
#include "source_registry.h"

namespace nnc {
namespace {


class ArraySource final : public SampleSource {
 public:
  ArraySource(Tensor array, std::string label) : array_(std::move(array)), label_(std::move(label)) {}
  int64_t count() const override { return array_.shape.empty() ? 0 : array_.shape[0]; }
  DType dtype() const override { return array_.dtype; }
  std::vector<int64_t> sampleShape() const override { return {array_.shape.begin() + 1, array_.shape.end()}; }
  std::string describe() const override { return label_; }
  Expected<Tensor> read(int64_t begin, int64_t n) const override {
    if (begin < 0 || n < 0 || begin + n > count()) return invalidArgument(label_ + ": samples out of range");
    int64_t elements = 1;
    for (int64_t d : sampleShape()) elements *= d;
    const uint64_t per_sample = dtypeStorageBytes(array_.dtype, static_cast<uint64_t>(elements));
    Tensor t;
    t.dtype = array_.dtype;
    t.shape = array_.shape;
    t.shape[0] = n;
    t.buffer = std::make_shared<SliceBuffer>(array_.buffer, static_cast<size_t>(per_sample * static_cast<uint64_t>(begin)),
                                             static_cast<size_t>(per_sample * static_cast<uint64_t>(n)));
    return t;
  }

 private:
  Tensor array_;
  std::string label_;
};

template <typename T>
void toFloat(const Tensor& in, float* out, int64_t n) {
  const T* p = in.dataAs<T>();
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(p[i]);
}

}  // namespace

std::unique_ptr<SampleSource> arraySource(Tensor array, std::string label) {
  return std::make_unique<ArraySource>(std::move(array), std::move(label));
}

void Dataset::addInput(std::string input_name, std::unique_ptr<SampleSource> source) {
  inputs_.emplace_back(std::move(input_name), std::move(source));
}

int64_t Dataset::size() const {
  if (inputs_.empty()) return 0;
  int64_t n = inputs_.front().second->count();
  for (const auto& [name, source] : inputs_) n = std::min(n, source->count());
  return n;
}

Status Dataset::validate(const Session& session) const {
  for (const Value* input : session.inputs()) {
    bool found = false;
    for (const auto& [name, source] : inputs_) found |= name == input->name();
    if (!found) return invalidArgument("no data for model input '" + input->name() + "' (use --data " + input->name() + "=PATH)");
  }
  for (const auto& [name, source] : inputs_) {
    bool known = false;
    for (const Value* input : session.inputs()) known |= input->name() == name;
    if (!known) return invalidArgument("the model has no input '" + name + "' (data " + source->describe() + ")");
    if (source->count() != inputs_.front().second->count())
      return invalidArgument(source->describe() + " has " + std::to_string(source->count()) + " samples, " +
                             inputs_.front().second->describe() + " has " + std::to_string(inputs_.front().second->count()));
  }
  if (labels_ && static_cast<int64_t>(labels_->size()) != size())
    return invalidArgument("there are " + std::to_string(labels_->size()) + " labels for " + std::to_string(size()) + " samples");
  return Status::ok();
}

Expected<Tensor> convertInput(const Tensor& tensor, DType target, const Preprocess& pre) {
  if (tensor.dtype == target && !(target == DType::kFloat && pre.any())) return tensor;
  if (target != DType::kFloat && target != DType::kFloat16) {
    if (tensor.dtype == target) return tensor;
    return invalidArgument("data of type " + dtypeName(tensor.dtype) + " cannot feed an input of type " + dtypeName(target));
  }
  const int64_t n = tensor.elementCount();
  std::vector<float> values(static_cast<size_t>(n));
  switch (tensor.dtype) {
    case DType::kFloat: std::memcpy(values.data(), tensor.bytes(), static_cast<size_t>(n) * 4); break;
    case DType::kDouble: toFloat<double>(tensor, values.data(), n); break;
    case DType::kUInt8: toFloat<uint8_t>(tensor, values.data(), n); break;
    case DType::kInt8: toFloat<int8_t>(tensor, values.data(), n); break;
    case DType::kUInt16: toFloat<uint16_t>(tensor, values.data(), n); break;
    case DType::kInt16: toFloat<int16_t>(tensor, values.data(), n); break;
    case DType::kInt32: toFloat<int32_t>(tensor, values.data(), n); break;
    case DType::kInt64: toFloat<int64_t>(tensor, values.data(), n); break;
    case DType::kFloat16:
      for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = halfToFloat(tensor.dataAs<uint16_t>()[i]);
      break;
    default:
      return invalidArgument("data of type " + dtypeName(tensor.dtype) + " cannot feed a float input");
  }
  if (pre.any()) {
    const auto& shape = tensor.shape;
    const int axis = pre.channel_axis;
    const int64_t channels = axis < static_cast<int>(shape.size()) ? shape[static_cast<size_t>(axis)] : 1;
    int64_t inner = 1;
    for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
    for (const auto* list : {&pre.mean, &pre.std})
      if (!list->empty() && list->size() != 1 && static_cast<int64_t>(list->size()) != channels)
        return invalidArgument("--mean/--std have " + std::to_string(list->size()) + " values for " + std::to_string(channels) + " channels");
    for (int64_t i = 0; i < n; ++i) {
      const size_t c = channels > 0 ? static_cast<size_t>((i / inner) % channels) : 0;
      float v = static_cast<float>(values[static_cast<size_t>(i)] * pre.scale);
      if (!pre.mean.empty()) v -= pre.mean[pre.mean.size() == 1 ? 0 : c];
      if (!pre.std.empty()) v /= pre.std[pre.std.size() == 1 ? 0 : c];
      values[static_cast<size_t>(i)] = v;
    }
  }
  if (target == DType::kFloat) return Tensor::fromValues<float>(DType::kFloat, tensor.shape, values);
  std::vector<uint16_t> half(values.size());
  for (size_t i = 0; i < values.size(); ++i) half[i] = floatToHalf(values[i]);
  return Tensor::fromValues<uint16_t>(DType::kFloat16, tensor.shape, half);
}

Expected<NamedTensors> Dataset::batch(const Session& session, int64_t begin, int64_t n) const {
  NamedTensors result;
  for (const Value* input : session.inputs()) {
    for (const auto& [name, source] : inputs_) {
      if (name != input->name()) continue;
      NNC_ASSIGN_OR_RETURN(Tensor raw, source->read(begin, n));
      DType target = input->type.elem_type ? static_cast<DType>(input->type.elem_type) : raw.dtype;
      auto converted = convertInput(raw, target, preprocess_);
      if (!converted) return converted.status().withContext(source->describe());
      result.emplace_back(name, std::move(converted).value());
    }
  }
  return result;
}

Status addDataSpec(Dataset& dataset, const Session& session, const std::string& spec) {
  return addDataSpec(dataset, session, spec, DataOptions{});
}

Status addDataSpec(Dataset& dataset, const Session& session, const std::string& spec, const DataOptions& options) {
  std::string name, path = spec;
  size_t eq = spec.find('=');
  if (eq != std::string::npos && eq > 0 && spec.find('/') > eq) {
    name = spec.substr(0, eq);
    path = spec.substr(eq + 1);
  }
  NNC_ASSIGN_OR_RETURN(auto opened, data_sources::open(path, options));
  auto& sources = opened.sources;
  // Labels the path implies (image class folders), unless the dataset has some: set on success only.
  auto adoptLabels = [&] {
    if (opened.labels && !dataset.hasLabels()) dataset.setLabels(std::move(*opened.labels));
    return Status::ok();
  };
  if (sources.size() == 1 && (sources[0].first.empty() || !name.empty())) {
    // One array: NAME= binds it (whatever name a .npz gave it); else a single-input model takes it.
    if (name.empty()) {
      auto feed = session.inputs();
      if (feed.size() != 1)
        return invalidArgument("the model has " + std::to_string(feed.size()) + " inputs: name the one '" + path + "' feeds (--data NAME=PATH)");
      name = feed[0]->name();
    }
    dataset.addInput(name, std::move(sources[0].second));
    return adoptLabels();
  }
  if (!name.empty())
    return invalidArgument("'" + path + "' holds " + std::to_string(sources.size()) + " arrays: NAME=PATH binds a single array (drop '" + name +
                           "=' to bind them by their names)");
  // Named arrays (.npz, test_data_set folders): bound by name; positional names bind in input order.
  // Names are resolved first so that an error leaves the dataset unchanged.
  auto feed = session.inputs();
  std::vector<std::string> inputs;
  for (const auto& [source_name, source] : sources) {
    std::string input = source_name;
    if (input.rfind("#", 0) == 0) {  // positional: "#0", "#1", ...
      size_t index = std::stoul(input.substr(1));
      if (index >= feed.size())
        return invalidArgument("'" + path + "' has an array for input #" + std::to_string(index) + " but the model has " +
                               std::to_string(feed.size()) + " inputs");
      input = feed[index]->name();
    }
    inputs.push_back(std::move(input));
  }
  for (size_t i = 0; i < sources.size(); ++i) dataset.addInput(inputs[i], std::move(sources[i].second));
  return adoptLabels();
}

}  // namespace nnc

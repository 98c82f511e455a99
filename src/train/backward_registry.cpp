// The table of backward functions by op type, and the helpers the op families share
// (float access, broadcasting). Each family lives in its own src/train/backward_*.cpp.
#include <algorithm>
#include <map>

#include "nncompress/train/backward.h"

namespace nnc::train {

// Declared by the family files.
Status gemmBackward(BackwardContext&);
Status matMulBackward(BackwardContext&);
Status addBackward(BackwardContext&);
Status subBackward(BackwardContext&);
Status mulBackward(BackwardContext&);
Status divBackward(BackwardContext&);
Status reluBackward(BackwardContext&);
Status clipBackward(BackwardContext&);
Status softmaxBackward(BackwardContext&);
Status logSoftmaxBackward(BackwardContext&);
Status reshapeLikeBackward(BackwardContext&);
Status convBackward(BackwardContext&);
Status maxPoolBackward(BackwardContext&);
Status averagePoolBackward(BackwardContext&);
Status globalAveragePoolBackward(BackwardContext&);
Status batchNormBackward(BackwardContext&);
Status transposeBackward(BackwardContext&);
Status concatBackward(BackwardContext&);

namespace {

const std::map<std::string, BackwardFn>& table() {
  static const std::map<std::string, BackwardFn> kTable = {
      {"Add", addBackward},           {"AveragePool", averagePoolBackward},
      {"BatchNormalization", batchNormBackward}, {"Clip", clipBackward},
      {"Concat", concatBackward},     {"Transpose", transposeBackward},
      {"Conv", convBackward},         {"GlobalAveragePool", globalAveragePoolBackward},
      {"MaxPool", maxPoolBackward},
      {"Div", divBackward},           {"Flatten", reshapeLikeBackward},
      {"Gemm", gemmBackward},         {"Identity", reshapeLikeBackward},
      {"LogSoftmax", logSoftmaxBackward}, {"MatMul", matMulBackward},
      {"Mul", mulBackward},           {"Relu", reluBackward},
      {"Reshape", reshapeLikeBackward}, {"Softmax", softmaxBackward},
      {"Squeeze", reshapeLikeBackward}, {"Sub", subBackward},
      {"Unsqueeze", reshapeLikeBackward},
  };
  return kTable;
}

}  // namespace

Grad Grad::zeros(std::vector<int64_t> shape) {
  Grad g;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  g.shape = std::move(shape);
  g.data.assign(static_cast<size_t>(n), 0.0f);
  return g;
}

const float* BackwardContext::in(size_t i) const {
  NNC_ENFORCE(i < inputs.size() && inputs[i] != nullptr && inputs[i]->dtype == DType::kFloat,
              "backward of " + node.op_type + ": input " + std::to_string(i) + " is not float32");
  return inputs[i]->dataAs<float>();
}

const float* BackwardContext::out(size_t i) const {
  NNC_ENFORCE(i < outputs.size() && outputs[i] != nullptr && outputs[i]->dtype == DType::kFloat,
              "backward of " + node.op_type + ": output " + std::to_string(i) + " is not float32");
  return outputs[i]->dataAs<float>();
}

Status BackwardContext::fail(const std::string& message) const {
  return unsupported("training: " + node.op_type + " node '" + node.name + "': " + message);
}

BackwardFn findBackward(const std::string& domain, const std::string& op_type) {
  if (!domain.empty() && domain != "ai.onnx") return nullptr;
  auto it = table().find(op_type);
  return it == table().end() ? nullptr : it->second;
}

std::vector<std::string> backwardOpNames() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : table()) names.push_back(name);
  return names;
}

Expected<std::vector<int64_t>> broadcastShape(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return invalidArgument("shapes do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcastSourceIndex(const std::vector<int64_t>& out_shape, const std::vector<int64_t>& in_shape) {
  const size_t rank = out_shape.size();
  // Stride of each output axis in the input (0 where the input is broadcast along it).
  std::vector<int64_t> in_stride(rank, 0);
  int64_t stride = 1;
  for (size_t k = 0; k < in_shape.size(); ++k) {
    const size_t axis = rank - 1 - k;
    const int64_t dim = in_shape[in_shape.size() - 1 - k];
    in_stride[axis] = dim == 1 ? 0 : stride;
    stride *= dim;
  }
  int64_t total = 1;
  for (int64_t d : out_shape) total *= d;
  std::vector<int64_t> source(static_cast<size_t>(total));
  std::vector<int64_t> idx(rank, 0);
  int64_t offset = 0;
  for (int64_t i = 0; i < total; ++i) {
    source[static_cast<size_t>(i)] = offset;
    for (size_t axis = rank; axis-- > 0;) {  // odometer increment, tracking the input offset
      if (++idx[axis] < out_shape[axis]) {
        offset += in_stride[axis];
        break;
      }
      offset -= in_stride[axis] * (out_shape[axis] - 1);
      idx[axis] = 0;
    }
  }
  return source;
}

Grad reduceToShape(const std::vector<float>& grad, const std::vector<int64_t>& out_shape,
                   const std::vector<int64_t>& in_shape) {
  Grad result = Grad::zeros(in_shape);
  if (result.data.size() == grad.size()) {
    result.data = grad;
    return result;
  }
  const std::vector<int64_t> source = broadcastSourceIndex(out_shape, in_shape);
  for (size_t i = 0; i < grad.size(); ++i) result.data[static_cast<size_t>(source[i])] += grad[i];
  return result;
}

}  // namespace nnc::train

// ONNX test data folders (the layout of ONNX's backend tests and model zoo): a folder holding
// test_data_set_0, test_data_set_1, ... each with input_0.pb, input_1.pb, ... (TensorProto),
// or a folder holding input_*.pb itself (one set). Each set is one batch of samples; the sets
// are concatenated along axis 0 into one array per input, held in memory (these folders are
// small). An input is named by its TensorProto's name, or "#i" (the i-th model input) when
// the name is empty.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "onnx/proto_util.h"
#include "source_registry.h"

namespace nnc::data_sources {
namespace {

namespace fs = std::filesystem;

// The number in "PREFIX<digits>SUFFIX", or -1.
int64_t numberIn(const std::string& name, const std::string& prefix, const std::string& suffix) {
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 || !endsWith(name, suffix))
    return -1;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

// Entries of `folder` named PREFIX<k>SUFFIX, sorted by k (so 10 comes after 9).
std::vector<std::pair<int64_t, std::string>> numbered(const std::string& folder, const std::string& prefix, const std::string& suffix,
                                                      bool want_dirs) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    std::error_code type_ec;
    if (entry.is_directory(type_ec) != want_dirs) continue;
    const int64_t k = numberIn(entry.path().filename().string(), prefix, suffix);
    if (k >= 0) found.emplace_back(k, entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

struct SetInput {
  std::string name;
  Tensor tensor;
  std::string file;
};

Expected<std::vector<SetInput>> readSet(const std::string& folder) {
  std::vector<SetInput> inputs;
  onnx_io::ExternalDataResolver external(folder);
  for (const auto& [index, file] : numbered(folder, "input_", ".pb", false)) {
    const std::string label = "'" + file + "'";
    std::ifstream in(file, std::ios::binary);
    if (!in) return ioError("cannot open " + label);
    std::stringstream bytes;
    bytes << in.rdbuf();
    onnx::TensorProto proto;
    if (!proto.ParseFromString(bytes.str())) return invalidModel(label + " is not a TensorProto (corrupt .pb)");
    std::string name = proto.name().empty() ? "#" + std::to_string(index) : proto.name();
    auto tensor = onnx_io::tensorFromProto(proto, external);
    if (!tensor) return tensor.status().withContext(label);
    if (tensor->dtype == DType::kString) return unsupported(label + ": string tensors cannot be model input data here");
    if (tensor->shape.empty()) return invalidArgument(label + " is a scalar; data needs a leading sample axis");
    inputs.push_back({std::move(name), std::move(tensor).value(), file});
  }
  if (inputs.empty()) return invalidArgument("'" + folder + "' has no input_*.pb files");
  return inputs;
}

}  // namespace

bool isOnnxTestDataFolder(const std::string& folder) {
  return !numbered(folder, "test_data_set_", "", true).empty() || !numbered(folder, "input_", ".pb", false).empty();
}

Expected<NamedSources> openOnnxTestData(const std::string& folder) {
  std::vector<std::string> set_folders;
  if (!numbered(folder, "input_", ".pb", false).empty()) {
    set_folders.push_back(folder);
  } else {
    for (auto& [k, path] : numbered(folder, "test_data_set_", "", true)) set_folders.push_back(path);
  }
  if (set_folders.empty()) return invalidArgument("'" + folder + "' has no test_data_set_* folders or input_*.pb files");
  std::vector<std::vector<SetInput>> sets;
  for (const std::string& set : set_folders) {
    NNC_ASSIGN_OR_RETURN(auto inputs, readSet(set));
    if (!sets.empty()) {
      const auto& first = sets.front();
      if (inputs.size() != first.size())
        return invalidArgument("'" + set + "' has " + std::to_string(inputs.size()) + " inputs, '" + set_folders.front() + "' has " +
                               std::to_string(first.size()));
      for (size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& a = first[i].tensor;
        const Tensor& b = inputs[i].tensor;
        const std::string label = "'" + inputs[i].file + "'";
        if (inputs[i].name != first[i].name)
          return invalidArgument(label + " is input '" + inputs[i].name + "', '" + first[i].file + "' is '" + first[i].name + "'");
        if (a.dtype != b.dtype || a.shape.size() != b.shape.size() || !std::equal(a.shape.begin() + 1, a.shape.end(), b.shape.begin() + 1))
          return invalidArgument(label + " (" + dtypeName(b.dtype) + ") does not match '" + first[i].file + "' (" + dtypeName(a.dtype) +
                                 ") in type or sample shape; sets are concatenated along axis 0");
        if (dtypeBits(b.dtype) < 8) return unsupported(label + ": cannot concatenate " + dtypeName(b.dtype) + " sets");
      }
    }
    sets.push_back(std::move(inputs));
  }
  NamedSources sources;
  const std::string base = "'" + folder + "'";
  for (size_t i = 0; i < sets.front().size(); ++i) {
    const std::string label = base + " input '" + sets.front()[i].name + "'";
    if (sets.size() == 1) {
      sources.emplace_back(sets.front()[i].name, arraySource(std::move(sets.front()[i].tensor), label));
      continue;
    }
    std::vector<int64_t> shape = sets.front()[i].tensor.shape;
    shape[0] = 0;
    for (const auto& set : sets) shape[0] += set[i].tensor.shape[0];
    uint8_t* out = nullptr;
    Tensor joined = Tensor::uninitialized(sets.front()[i].tensor.dtype, shape, &out);
    for (const auto& set : sets) {
      std::memcpy(out, set[i].tensor.bytes(), set[i].tensor.byteSize());
      out += set[i].tensor.byteSize();
    }
    sources.emplace_back(sets.front()[i].name, arraySource(std::move(joined), label));
  }
  return sources;
}

}  // namespace nnc::data_sources

// Label files: .npy (integer types, [N] or [N,1]), idx (MNIST labels, plain or .gz), image
// folders with class subfolders, and text (one integer per line).
#include <sys/stat.h>

#include <fstream>

#include "nncompress/data/dataset.h"
#include "nncompress/data/npy.h"
#include "source_registry.h"

namespace nnc {

using data_sources::endsWith;

Expected<std::vector<int64_t>> readLabels(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    NNC_ASSIGN_OR_RETURN(ImageClasses classes, imageFolderClasses(path));
    return std::move(classes.labels);
  }
  const bool npy = endsWith(path, ".npy");
  if (npy || data_sources::looksLikeIdxOrGzip(path)) {
    NNC_ASSIGN_OR_RETURN(Tensor t, npy ? readNpy(path) : data_sources::readIdx(path));
    if (t.shape.size() > 2 || (t.shape.size() == 2 && t.shape[1] != 1))
    {
      std::string shape;
      for (int64_t d : t.shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
      return invalidArgument("labels '" + path + "' must have shape [N] or [N,1], not [" + shape + "]");
    }
    std::vector<int64_t> labels(static_cast<size_t>(t.elementCount()));
    for (size_t i = 0; i < labels.size(); ++i) {
      switch (t.dtype) {
        case DType::kInt64: labels[i] = t.dataAs<int64_t>()[i]; break;
        case DType::kInt32: labels[i] = t.dataAs<int32_t>()[i]; break;
        case DType::kUInt8: labels[i] = t.dataAs<uint8_t>()[i]; break;
        case DType::kInt16: labels[i] = t.dataAs<int16_t>()[i]; break;
        case DType::kUInt16: labels[i] = t.dataAs<uint16_t>()[i]; break;
        case DType::kInt8: labels[i] = t.dataAs<int8_t>()[i]; break;
        default: return invalidArgument("labels '" + path + "' must be integers, not " + dtypeName(t.dtype));
      }
    }
    return labels;
  }
  std::ifstream in(path);
  if (!in) return ioError("cannot open labels '" + path + "'");
  std::vector<int64_t> labels;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      size_t used = 0;
      labels.push_back(std::stoll(line, &used));
    } catch (const std::exception&) {
      return invalidArgument("labels '" + path + "' line " + std::to_string(line_number) + " is not an integer");
    }
  }
  return labels;
}

}  // namespace nnc

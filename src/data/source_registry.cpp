// Opens a data path by its kind (see source_registry.h). Each kind lives in its own file.
#include "source_registry.h"

#include <sys/stat.h>

#include <fstream>

#include "nncompress/data/npy.h"

namespace nnc::data_sources {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string filePrefix(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::string bytes(n, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return bytes;
}

Expected<OpenedData> open(const std::string& path, const DataOptions& options) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ioError("cannot open data '" + path + "': no such file or folder");
  OpenedData opened;
  if (S_ISDIR(st.st_mode)) {
    if (isOnnxTestDataFolder(path)) {
      NNC_ASSIGN_OR_RETURN(opened.sources, openOnnxTestData(path));
      return opened;
    }
    return openImageFolder(path, options.image);
  }
  if (endsWith(path, ".npy")) {
    NNC_ASSIGN_OR_RETURN(Tensor array, readNpy(path));
    if (array.shape.empty()) return invalidArgument("'" + path + "' is a scalar; data arrays need a leading sample axis");
    opened.sources.emplace_back("", arraySource(std::move(array), "'" + path + "'"));
    return opened;
  }
  if (endsWith(path, ".npz") || filePrefix(path, 2) == "PK") {
    NNC_ASSIGN_OR_RETURN(opened.sources, openNpz(path));
    return opened;
  }
  if (looksLikeIdxOrGzip(path)) {
    NNC_ASSIGN_OR_RETURN(auto source, openIdx(path));
    opened.sources.emplace_back("", std::move(source));
    return opened;
  }
  return unsupported("data '" + path +
                     "': unknown kind (expected .npy, .npz, an idx file (.gz), a folder of ONNX test_data_set_*/input_*.pb, "
                     "or a folder of images)");
}

}  // namespace nnc::data_sources

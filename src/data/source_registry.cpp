// Opens a data path by its kind (see source_registry.h). Each kind lives in its own file.
#include "source_registry.h"

#include <sys/stat.h>

#include "nncompress/data/npy.h"
#include "nncompress/support/file_io.h"

namespace nnc::data_sources {
namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Expected<NamedSources> open(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ioError("cannot open data '" + path + "': no such file or folder");
  NamedSources sources;
  if (!S_ISDIR(st.st_mode) && endsWith(path, ".npy")) {
    NNC_ASSIGN_OR_RETURN(Tensor array, readNpy(path));
    if (array.shape.empty()) return invalidArgument("'" + path + "' is a scalar; data arrays need a leading sample axis");
    sources.emplace_back("", arraySource(std::move(array), "'" + path + "'"));
    return sources;
  }
  return unsupported("data '" + path + "': unsupported kind (use .npy)");
}

}  // namespace nnc::data_sources

// Internal: opening a data path as sample sources, dispatched on what the path is. Each kind
// lives in its own file (npz_source.cpp, onnx_test_data_source.cpp, idx_source.cpp,
// image_source.cpp); open() in source_registry.cpp picks one.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nncompress/data/dataset.h"
#include "nncompress/support/file_io.h"

namespace nnc::data_sources {

// The sources in a path: one unnamed source ("" name) for a plain array/idx/image folder, or
// named ones ("input name", or "#i" for the i-th model input) for .npz and test_data_set folders.
using NamedSources = std::vector<std::pair<std::string, std::unique_ptr<SampleSource>>>;

// What a path holds: its sources and, when the path itself implies them (image class
// folders), the labels of its samples.
struct OpenedData {
  NamedSources sources;
  std::optional<std::vector<int64_t>> labels;
};

Expected<OpenedData> open(const std::string& path, const DataOptions& options);

// --- one function per kind (each in its own file) ---

// .npz (NumPy zip): one source per NAME.npy entry; "arr_K" entries become "#K".
Expected<NamedSources> openNpz(const std::string& path);
// A folder of test_data_set_*/input_*.pb, or one set (input_*.pb directly in the folder).
Expected<NamedSources> openOnnxTestData(const std::string& folder);
// Whether a folder looks like ONNX test data (test_data_set_* subfolders or input_*.pb files).
bool isOnnxTestDataFolder(const std::string& folder);
// An idx file (MNIST format), plain or gzip-compressed, as it is stored: shape = idx dims.
Expected<Tensor> readIdx(const std::string& path);
// readIdx as a sample source; 3-d idx (images [N,rows,cols]) gets a channel axis: [N,1,rows,cols].
Expected<std::unique_ptr<SampleSource>> openIdx(const std::string& path);
// Whether the file starts like an idx file or a gzip stream.
bool looksLikeIdxOrGzip(const std::string& path);
// A folder of images (flat, or DIR/<class>/*); labels set for class folders.
Expected<OpenedData> openImageFolder(const std::string& folder, const ImageOptions& options);

// --- small helpers shared by the kinds ---

bool endsWith(const std::string& s, const std::string& suffix);
// The first `n` bytes of a file (fewer if it is shorter); empty if it cannot be read.
std::string filePrefix(const std::string& path, size_t n);

}  // namespace nnc::data_sources

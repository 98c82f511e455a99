// Internal: opening a data path as sample sources, dispatched on what the path is.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nncompress/data/dataset.h"

namespace nnc::data_sources {

// The sources in a path: one unnamed source ("" name) for a plain array/idx/image folder, or
// named ones ("input name", or "#i" for the i-th model input) for .npz and test_data_set folders.
using NamedSources = std::vector<std::pair<std::string, std::unique_ptr<SampleSource>>>;
Expected<NamedSources> open(const std::string& path);

}  // namespace nnc::data_sources

// NumPy .npy files (format versions 1-3, C order, little-endian): read by memory-mapping the
// file (the tensor views the mapping, no copy), written atomically.
#pragma once

#include <string>
#include <vector>

#include "nncompress/ir/tensor.h"

namespace nnc {

// What an .npy header says: element type, shape, where the data starts and how long it is.
struct NpyInfo {
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  size_t data_offset = 0;  // from the start of the .npy bytes
  size_t data_bytes = 0;
};
// Parses the header of .npy bytes and checks that `size` holds the data; errors name `label`.
Expected<NpyInfo> parseNpyHeader(const void* data, size_t size, const std::string& label);

// Reads an .npy file. Supported dtypes: f2 f4 f8, i1 i2 i4 i8, u1 u2 u4 u8, b1.
Expected<Tensor> readNpy(const std::string& path);
// Parses .npy bytes held in memory (copies the data).
Expected<Tensor> parseNpy(const void* data, size_t size, const std::string& label);
// Writes a tensor as .npy (bfloat16 is not a NumPy type: refused).
Status writeNpy(const std::string& path, const Tensor& tensor, bool overwrite);

}  // namespace nnc

// Helpers of the shape/data-movement family (see shape_util.h).
#include "shape_util.h"

#include <algorithm>
#include <cmath>

namespace nnc::ops::shape {

size_t elementBytes(DType dtype) {
  if (dtype == DType::kString) return 0;
  const int bits = dtypeBits(dtype);
  if (bits <= 0 || bits % 8 != 0) return 0;
  return static_cast<size_t>(bits / 8);
}

Expected<size_t> movableBytes(const KernelContext& ctx, const Tensor& t) {
  const size_t size = elementBytes(t.dtype);
  if (size == 0 || t.buffer == nullptr) return ctx.unsupportedHere("type " + dtypeName(t.dtype) + " is not supported");
  return size;
}

std::vector<int64_t> contiguousStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

namespace {

constexpr int64_t kParallelBytes = 1 << 18;  // below this, threads cost more than they save
constexpr int64_t kRowBlock = 16;

template <typename T>
void copyRows(const T* in, T* out, const std::vector<int64_t>& shape, const std::vector<int64_t>& is,
              const std::vector<int64_t>& os) {
  const size_t r = shape.size();
  const int64_t cols = shape[r - 1], ics = is[r - 1], ocs = os[r - 1];
  const int64_t rows = r >= 2 ? shape[r - 2] : 1;
  const int64_t irs = r >= 2 ? is[r - 2] : 0, ors = r >= 2 ? os[r - 2] : 0;
  const size_t outer_dims = r >= 2 ? r - 2 : 0;
  const int64_t outer = product(shape, 0, outer_dims);
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  const int64_t tasks = outer * blocks;
  const int64_t bytes = outer * rows * cols * static_cast<int64_t>(sizeof(T));
#pragma omp parallel for if (bytes > kParallelBytes && tasks > 1)
  for (int64_t task = 0; task < tasks; ++task) {
    int64_t o = task / blocks, ioff = 0, ooff = 0;
    for (size_t d = outer_dims; d-- > 0;) {
      const int64_t idx = o % shape[d];
      o /= shape[d];
      ioff += idx * is[d];
      ooff += idx * os[d];
    }
    const int64_t r0 = (task % blocks) * kRowBlock, r1 = std::min(rows, r0 + kRowBlock);
    if (ics == 1 && ocs == 1) {
      for (int64_t i = r0; i < r1; ++i) std::memcpy(out + ooff + i * ors, in + ioff + i * irs, sizeof(T) * static_cast<size_t>(cols));
    } else if (irs == 1 && ocs == 1) {
      // A 2D transpose: walk tiles so that both the reads (down rows) and writes stay in cache.
      for (int64_t j0 = 0; j0 < cols; j0 += kRowBlock) {
        const int64_t j1 = std::min(cols, j0 + kRowBlock);
        for (int64_t i = r0; i < r1; ++i) {
          T* dst = out + ooff + i * ors;
          const T* src = in + ioff + i;
          for (int64_t j = j0; j < j1; ++j) dst[j] = src[j * ics];
        }
      }
    } else {
      for (int64_t i = r0; i < r1; ++i) {
        T* dst = out + ooff + i * ors;
        const T* src = in + ioff + i * irs;
        for (int64_t j = 0; j < cols; ++j) dst[j * ocs] = src[j * ics];
      }
    }
  }
}

}  // namespace

void copyStrided(const uint8_t* in, uint8_t* out, size_t esize, std::vector<int64_t> shape, std::vector<int64_t> istrides,
                 std::vector<int64_t> ostrides) {
  // Drop size-1 dims, stop on empty ones, then merge dims that are contiguous in both tensors.
  std::vector<int64_t> s, is, os;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return;
    if (shape[d] == 1) continue;
    if (!s.empty() && is.back() == istrides[d] * shape[d] && os.back() == ostrides[d] * shape[d]) {
      s.back() *= shape[d];
      is.back() = istrides[d];
      os.back() = ostrides[d];
      continue;
    }
    s.push_back(shape[d]);
    is.push_back(istrides[d]);
    os.push_back(ostrides[d]);
  }
  if (s.empty()) {
    std::memcpy(out, in, esize);
    return;
  }
  // A fully contiguous copy of many elements: split it for threads.
  if (s.size() == 1 && is[0] == 1 && os[0] == 1) {
    const int64_t total = s[0] * static_cast<int64_t>(esize);
    const int64_t chunk = 1 << 20, chunks = (total + chunk - 1) / chunk;
#pragma omp parallel for if (chunks > 1)
    for (int64_t c = 0; c < chunks; ++c)
      std::memcpy(out + c * chunk, in + c * chunk, static_cast<size_t>(std::min(chunk, total - c * chunk)));
    return;
  }
  dispatchBySize(esize, [&](auto zero) {
    using T = decltype(zero);
    copyRows<T>(reinterpret_cast<const T*>(in), reinterpret_cast<T*>(out), s, is, os);
  });
}

void copyStrided(const uint8_t* in, uint8_t* out, size_t esize, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& istrides) {
  copyStrided(in, out, esize, shape, istrides, contiguousStrides(shape));
}

Expected<std::vector<int64_t>> readIntsOf(const KernelContext& ctx, const Tensor& t, const std::string& what) {
  auto values = readInts(t, what);
  if (!values) return ctx.fail(values.status().message());
  return values;
}

Expected<int64_t> readScalarInt(const KernelContext& ctx, const Tensor& t, const std::string& what) {
  NNC_ASSIGN_OR_RETURN(auto values, readIntsOf(ctx, t, what));
  if (values.size() != 1) return ctx.fail(what + " must have one element, got shape " + shapeToString(t.shape));
  return values[0];
}

bool encodeScalar(DType dtype, double value, uint8_t* out) {
  switch (dtype) {
    case DType::kBool: *out = value != 0; return true;
    case DType::kFloat16: {
      const uint16_t h = floatToHalf(static_cast<float>(value));
      std::memcpy(out, &h, 2);
      return true;
    }
    case DType::kBFloat16: {
      const uint16_t h = floatToBfloat16(static_cast<float>(value));
      std::memcpy(out, &h, 2);
      return true;
    }
    default:
      return dispatchNumeric(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T v = static_cast<T>(value);
        std::memcpy(out, &v, sizeof(T));
      });
  }
}

Status checkShape(const KernelContext& ctx, const std::vector<int64_t>& shape, size_t esize) {
  auto count = checkedElementCount(shape);
  if (!count) return ctx.fail("invalid output shape " + shapeToString(shape) + ": " + count.status().message());
  // 2^40 bytes: far beyond any real activation; refusing it beats a bad_alloc abort.
  if (*count > (int64_t{1} << 40) / static_cast<int64_t>(std::max<size_t>(esize, 1)))
    return ctx.fail("output shape " + shapeToString(shape) + " is too large");
  return Status::ok();
}

void fillElements(uint8_t* out, const uint8_t* value, size_t esize, int64_t count) {
  if (count <= 0) return;
  bool zero = true;
  for (size_t i = 0; i < esize; ++i) zero = zero && value[i] == 0;
  if (zero || esize == 1) {
    std::memset(out, zero ? 0 : value[0], static_cast<size_t>(count) * esize);
    return;
  }
  dispatchBySize(esize, [&](auto z) {
    using T = decltype(z);
    T v;
    std::memcpy(&v, value, sizeof(T));
    T* o = reinterpret_cast<T*>(out);
#pragma omp parallel for if (count > (1 << 18))
    for (int64_t i = 0; i < count; ++i) o[i] = v;
  });
}

}  // namespace nnc::ops::shape

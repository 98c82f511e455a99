// Helpers of the shape/data-movement family (see shape_util.h).
#include "shape_util.h"
#include "parallel.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#ifdef __AVX2__
#include <immintrin.h>
#endif

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

Tensor viewOf(const Tensor& t, std::vector<int64_t> shape, size_t offset) {
  Tensor view;
  view.dtype = t.dtype;
  view.shape = std::move(shape);
  const size_t size = static_cast<size_t>(dtypeStorageBytes(t.dtype, static_cast<uint64_t>(view.elementCount())));
  view.buffer = std::make_shared<SliceBuffer>(t.buffer, offset, size);
  return view;
}

std::vector<int64_t> contiguousStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

namespace {

constexpr int64_t kParallelBytes = 4 * kMinParallelWork;  // below this, threads cost more than they save
constexpr int64_t kRowBlock = 64;  // rows per task
constexpr int64_t kTile = 16;      // 2D transpose tile: one 64-byte line of floats

#ifdef __AVX2__
// dst[i][j] = src[j][i] for an 8x8 block of 4-byte elements (pure moves: bits are kept).
inline void transpose8x8(const uint32_t* src, int64_t sstride, uint32_t* dst, int64_t dstride) {
  const auto* s = reinterpret_cast<const float*>(src);
  auto* d = reinterpret_cast<float*>(dst);
  __m256 r[8], t[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(s + k * sstride);
  for (int k = 0; k < 4; ++k) {
    t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
  }
  for (int k = 0; k < 2; ++k) {
    r[4 * k + 0] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_ps(d + k * dstride, _mm256_permute2f128_ps(r[k], r[k + 4], 0x20));
    _mm256_storeu_ps(d + (k + 4) * dstride, _mm256_permute2f128_ps(r[k], r[k + 4], 0x31));
  }
}
#endif

template <typename T>
void copyRows(const T* in, T* out, const std::vector<int64_t>& shape, const std::vector<int64_t>& is,
              const std::vector<int64_t>& os) {
  const size_t r = shape.size();
  const int64_t cols = shape[r - 1], ics = is[r - 1], ocs = os[r - 1];
  const int64_t rows = r >= 2 ? shape[r - 2] : 1;
  const int64_t irs = r >= 2 ? is[r - 2] : 0, ors = r >= 2 ? os[r - 2] : 0;
  const size_t outer_dims = r >= 2 ? r - 2 : 0;
  const int64_t outer = product(shape, 0, outer_dims);
  // Tasks are blocks of rows; when there are few, columns are split too so threads get work.
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  int64_t col_chunk = cols;
  if (outer * blocks < 8 && cols >= 2 * kTile) {
    const int64_t want = std::min((8 + outer * blocks - 1) / (outer * blocks), cols / kTile);
    col_chunk = ((cols + want - 1) / want + kTile - 1) / kTile * kTile;
  }
  const int64_t chunks = (cols + col_chunk - 1) / col_chunk;
  const int64_t tasks = outer * blocks * chunks;
  const int64_t bytes = outer * rows * cols * static_cast<int64_t>(sizeof(T));
  NNC_PARALLEL_FOR_IF(bytes > kParallelBytes && tasks > 1,
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t c0 = (task % chunks) * col_chunk, c1 = std::min(cols, c0 + col_chunk);
      const int64_t block = (task / chunks) % blocks;
      int64_t o = task / (chunks * blocks), ioff = 0, ooff = 0;
      for (size_t d = outer_dims; d-- > 0;) {
        const int64_t idx = o % shape[d];
        o /= shape[d];
        ioff += idx * is[d];
        ooff += idx * os[d];
      }
      const int64_t r0 = block * kRowBlock, r1 = std::min(rows, r0 + kRowBlock);
      if (ics == 1 && ocs == 1) {
        for (int64_t i = r0; i < r1; ++i)
          std::memcpy(out + ooff + i * ors + c0, in + ioff + i * irs + c0, sizeof(T) * static_cast<size_t>(c1 - c0));
      } else if (irs == 1 && ocs == 1) {
        // A 2D transpose: walk tiles so that both the reads (down rows) and writes stay in cache.
        for (int64_t j0 = c0; j0 < c1; j0 += kTile) {
          const int64_t j1 = std::min(c1, j0 + kTile);
          for (int64_t i0 = r0; i0 < r1; i0 += kTile) {
            const int64_t i1 = std::min(r1, i0 + kTile);
  #ifdef __AVX2__
            if constexpr (sizeof(T) == 4) {
              if (i1 - i0 == kTile && j1 - j0 == kTile) {
                for (int64_t a = 0; a < kTile; a += 8)
                  for (int64_t b = 0; b < kTile; b += 8)
                    transpose8x8(reinterpret_cast<const uint32_t*>(in + ioff + i0 + a + (j0 + b) * ics), ics,
                                 reinterpret_cast<uint32_t*>(out + ooff + (i0 + a) * ors + j0 + b), ors);
                continue;
              }
            }
  #endif
            if (i1 - i0 == kTile && j1 - j0 == kTile) {
              // Full tile through a local buffer: contiguous reads, then contiguous writes.
              T tile[kTile][kTile];
              for (int64_t j = 0; j < kTile; ++j) {
                const T* src = in + ioff + i0 + (j0 + j) * ics;
                for (int64_t i = 0; i < kTile; ++i) tile[j][i] = src[i];
              }
              for (int64_t i = 0; i < kTile; ++i) {
                T* dst = out + ooff + (i0 + i) * ors + j0;
                for (int64_t j = 0; j < kTile; ++j) dst[j] = tile[j][i];
              }
              continue;
            }
            for (int64_t i = i0; i < i1; ++i) {
              T* dst = out + ooff + i * ors;
              const T* src = in + ioff + i;
              for (int64_t j = j0; j < j1; ++j) dst[j] = src[j * ics];
            }
          }
        }
      } else {
        for (int64_t i = r0; i < r1; ++i) {
          T* dst = out + ooff + i * ors;
          const T* src = in + ioff + i * irs;
          for (int64_t j = c0; j < c1; ++j) dst[j * ocs] = src[j * ics];
        }
      }
    });
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
    NNC_PARALLEL_FOR_IF(chunks > 1,
      for (int64_t c = 0; c < chunks; ++c)
        std::memcpy(out + c * chunk, in + c * chunk, static_cast<size_t>(std::min(chunk, total - c * chunk))););
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
  // More than the machine's memory cannot be allocated: refusing it beats a bad_alloc abort.
  static const int64_t limit = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : int64_t{1} << 40;
  }();
  if (*count > limit / static_cast<int64_t>(std::max<size_t>(esize, 1)))
    return ctx.fail("output shape " + shapeToString(shape) + " needs more memory than the machine has");
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
    NNC_PARALLEL_FOR_IF(count > (1 << 18),
      for (int64_t i = 0; i < count; ++i) o[i] = v;);
  });
}

}  // namespace nnc::ops::shape

// Image folders: a flat folder of images (sorted by file name) or ImageNet-style class
// subfolders DIR/<class>/<image> (classes sorted by name give the labels 0, 1, ...). At open
// only the headers are read (size and channels of every image, so mismatched sizes fail
// early); pixels are decoded in read(begin, n), so memory holds one batch, not the folder.
// Decoding: stb_image (PNG, JPEG, BMP, PGM/PPM; 8 bits per channel, 16-bit PNGs reduced).
// Resize: bilinear on 8-bit values with half-pixel centers (the sample point of output pixel x
// is (x + 0.5) * in / out - 0.5, clamped to the edge), no antialiasing filter when shrinking,
// results rounded to the nearest integer. This matches OpenCV's INTER_LINEAR, not PIL's
// (which filters over the whole footprint when shrinking). Center crop: offset (size - crop) / 2
// rounded down.
#include <stb/stb_image.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include "source_registry.h"

namespace nnc::data_sources {
namespace {

namespace fs = std::filesystem;

bool isImageFile(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".pgm" || ext == ".ppm";
}

struct ImageList {
  std::vector<std::string> files;
  std::vector<std::string> classes;  // empty for a flat folder
  std::vector<int64_t> labels;       // per file, class layout only
};

// Sorted entries of a folder (hidden ones skipped): image files and subfolders.
Status listFolder(const std::string& folder, std::vector<std::string>* images, std::vector<std::string>* dirs) {
  std::error_code ec;
  fs::directory_iterator it(folder, ec);
  if (ec) return ioError("cannot list '" + folder + "': " + ec.message());
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code type_ec;
    if (entry.is_directory(type_ec)) {
      if (dirs) dirs->push_back(entry.path().string());
    } else if (isImageFile(entry.path())) {
      images->push_back(entry.path().string());
    }
  }
  std::sort(images->begin(), images->end());
  if (dirs) std::sort(dirs->begin(), dirs->end());
  return Status::ok();
}

Expected<ImageList> listImages(const std::string& folder) {
  ImageList list;
  std::vector<std::string> dirs;
  NNC_RETURN_IF_ERROR(listFolder(folder, &list.files, &dirs));
  if (!list.files.empty() && !dirs.empty())
    return invalidArgument("'" + folder + "' holds both images and subfolders: use a flat folder of images or one subfolder per class");
  if (list.files.empty()) {
    for (const std::string& dir : dirs) {
      std::vector<std::string> images;
      NNC_RETURN_IF_ERROR(listFolder(dir, &images, nullptr));
      const auto label = static_cast<int64_t>(list.classes.size());
      list.classes.push_back(baseName(dir));
      for (auto& image : images) {
        list.files.push_back(std::move(image));
        list.labels.push_back(label);
      }
    }
  }
  if (list.files.empty())
    return invalidArgument("'" + folder + "' holds no images (.png .jpg .jpeg .bmp .pgm .ppm), test_data_set_* folders or input_*.pb files");
  return list;
}

struct Geometry {
  int resized_w = 0, resized_h = 0;  // after resize (the decoded size when there is none)
  int out_w = 0, out_h = 0;          // after crop
  int left = 0, top = 0;             // crop offset in the resized image
};

Expected<Geometry> geometryFor(int w, int h, const ImageOptions& options, const std::string& file) {
  Geometry g;
  g.resized_w = w;
  g.resized_h = h;
  if (options.resize > 0) {
    if (w <= h) {
      g.resized_w = options.resize;
      g.resized_h = std::max(1, static_cast<int>(std::lround(static_cast<double>(h) * options.resize / w)));
    } else {
      g.resized_h = options.resize;
      g.resized_w = std::max(1, static_cast<int>(std::lround(static_cast<double>(w) * options.resize / h)));
    }
  }
  g.out_w = g.resized_w;
  g.out_h = g.resized_h;
  if (options.crop > 0) {
    if (options.crop > g.resized_w || options.crop > g.resized_h)
      return invalidArgument("'" + file + "' is " + std::to_string(g.resized_w) + "x" + std::to_string(g.resized_h) +
                             (options.resize > 0 ? " after resizing" : "") + ", smaller than the crop " + std::to_string(options.crop) +
                             " (use --resize)");
    g.out_w = g.out_h = options.crop;
    g.left = (g.resized_w - options.crop) / 2;
    g.top = (g.resized_h - options.crop) / 2;
  }
  return g;
}

// Bilinear sample positions along one axis: for each output index, the two input indices and
// the weight of the second.
struct Taps {
  std::vector<int> i0, i1;
  std::vector<float> w1;
};

Taps taps(int in, int out, int first, int count) {
  Taps t;
  const double scale = static_cast<double>(in) / out;
  for (int o = first; o < first + count; ++o) {
    double s = (o + 0.5) * scale - 0.5;
    s = std::clamp(s, 0.0, static_cast<double>(in - 1));
    const int i0 = static_cast<int>(std::floor(s));
    t.i0.push_back(i0);
    t.i1.push_back(std::min(i0 + 1, in - 1));
    t.w1.push_back(static_cast<float>(s - i0));
  }
  return t;
}

class ImageSource final : public SampleSource {
 public:
  ImageSource(std::string folder, std::vector<std::string> files, int channels, Geometry geometry, ImageOptions options)
      : folder_(std::move(folder)), files_(std::move(files)), channels_(channels), geometry_(geometry), options_(options) {}
  int64_t count() const override { return static_cast<int64_t>(files_.size()); }
  DType dtype() const override { return DType::kUInt8; }
  std::vector<int64_t> sampleShape() const override {
    if (options_.nhwc) return {geometry_.out_h, geometry_.out_w, channels_};
    return {channels_, geometry_.out_h, geometry_.out_w};
  }
  std::string describe() const override { return "'" + folder_ + "'"; }

  Expected<Tensor> read(int64_t begin, int64_t n) const override {
    if (begin < 0 || n < 0 || begin + n > count()) return invalidArgument(describe() + ": samples out of range");
    std::vector<int64_t> shape = sampleShape();
    shape.insert(shape.begin(), n);
    uint8_t* out = nullptr;
    Tensor batch = Tensor::uninitialized(DType::kUInt8, shape, &out);
    const size_t per_sample = static_cast<size_t>(channels_) * geometry_.out_h * geometry_.out_w;
    for (int64_t i = 0; i < n; ++i)
      NNC_RETURN_IF_ERROR(decodeInto(files_[static_cast<size_t>(begin + i)], out + static_cast<size_t>(i) * per_sample));
    return batch;
  }

 private:
  Status decodeInto(const std::string& file, uint8_t* out) const {
    int w = 0, h = 0, comp = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(file.c_str(), &w, &h, &comp, channels_), stbi_image_free);
    if (!pixels) return invalidModel("'" + file + "' cannot be decoded: " + std::string(stbi_failure_reason() ? stbi_failure_reason() : "unknown error"));
    NNC_ASSIGN_OR_RETURN(Geometry g, geometryFor(w, h, options_, file));
    if (g.out_w != geometry_.out_w || g.out_h != geometry_.out_h)
      return invalidArgument("'" + file + "' changed size since the folder was opened");
    const int c = channels_;
    const int ow = g.out_w, oh = g.out_h;
    // Channel order of the output: c -> source channel.
    auto source_channel = [&](int k) { return (options_.bgr && c == 3) ? 2 - k : k; };
    auto store = [&](int y, int x, int k, uint8_t v) {
      if (options_.nhwc) out[(static_cast<size_t>(y) * ow + x) * c + k] = v;
      else out[(static_cast<size_t>(k) * oh + y) * ow + x] = v;
    };
    const uint8_t* src = pixels.get();
    if (g.resized_w == w && g.resized_h == h) {  // crop only
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x)
          for (int k = 0; k < c; ++k)
            store(y, x, k, src[(static_cast<size_t>(y + g.top) * w + (x + g.left)) * c + source_channel(k)]);
      return Status::ok();
    }
    const Taps tx = taps(w, g.resized_w, g.left, ow);
    const Taps ty = taps(h, g.resized_h, g.top, oh);
    for (int y = 0; y < oh; ++y) {
      const uint8_t* row0 = src + static_cast<size_t>(ty.i0[y]) * w * c;
      const uint8_t* row1 = src + static_cast<size_t>(ty.i1[y]) * w * c;
      const float fy = ty.w1[y];
      for (int x = 0; x < ow; ++x) {
        const size_t x0 = static_cast<size_t>(tx.i0[x]) * c, x1 = static_cast<size_t>(tx.i1[x]) * c;
        const float fx = tx.w1[x];
        for (int k = 0; k < c; ++k) {
          const int sk = source_channel(k);
          const float top = row0[x0 + sk] + (row0[x1 + sk] - row0[x0 + sk]) * fx;
          const float bottom = row1[x0 + sk] + (row1[x1 + sk] - row1[x0 + sk]) * fx;
          const float v = top + (bottom - top) * fy;
          store(y, x, k, static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)));
        }
      }
    }
    return Status::ok();
  }

  std::string folder_;
  std::vector<std::string> files_;
  int channels_;
  Geometry geometry_;
  ImageOptions options_;
};

}  // namespace

Expected<OpenedData> openImageFolder(const std::string& folder, const ImageOptions& options) {
  if (options.resize < 0 || options.crop < 0) return invalidArgument("image resize and crop sizes cannot be negative");
  NNC_ASSIGN_OR_RETURN(ImageList list, listImages(folder));
  // Every header: size and channels, so that a mismatch is reported now, not mid-run.
  Geometry first;
  bool any_color = false;
  for (size_t i = 0; i < list.files.size(); ++i) {
    const std::string& file = list.files[i];
    int w = 0, h = 0, comp = 0;
    if (!stbi_info(file.c_str(), &w, &h, &comp))
      return invalidModel("'" + file + "' is not a decodable image: " + std::string(stbi_failure_reason() ? stbi_failure_reason() : "unknown error"));
    any_color |= comp >= 3;
    NNC_ASSIGN_OR_RETURN(Geometry g, geometryFor(w, h, options, file));
    if (i == 0) {
      first = g;
    } else if (g.out_w != first.out_w || g.out_h != first.out_h) {
      return invalidArgument("'" + file + "' gives a " + std::to_string(g.out_w) + "x" + std::to_string(g.out_h) + " image, '" +
                             list.files[0] + "' a " + std::to_string(first.out_w) + "x" + std::to_string(first.out_h) +
                             " one: all samples need one size (use --resize and/or --crop)");
    }
  }
  const int channels = options.grayscale.has_value() ? (*options.grayscale ? 1 : 3) : (any_color ? 3 : 1);
  OpenedData opened;
  if (!list.classes.empty()) opened.labels = list.labels;
  opened.sources.emplace_back("", std::make_unique<ImageSource>(folder, std::move(list.files), channels, first, options));
  return opened;
}

}  // namespace nnc::data_sources

namespace nnc {

Expected<ImageClasses> imageFolderClasses(const std::string& folder) {
  NNC_ASSIGN_OR_RETURN(data_sources::ImageList list, data_sources::listImages(folder));
  if (list.classes.empty()) return invalidArgument("'" + folder + "' is a flat folder of images: it has no class subfolders, so no labels");
  return ImageClasses{std::move(list.classes), std::move(list.labels)};
}

}  // namespace nnc

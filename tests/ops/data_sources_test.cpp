// Data sources (not an op test; tests/ops is the globbed test binary): .npz (stored, deflated,
// zip64), ONNX test_data_set folders, idx (plain and .gz) and image folders. Fixtures are written
// here with zlib and stb_image_write, so every expected value is known exactly.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>

#include "data/source_registry.h"
#include "nncompress/data/dataset.h"
#include "nncompress/data/npy.h"
#include "nncompress/onnx/import.h"
#include "nncompress/runtime/session.h"
#include "test_util.h"

namespace nnc {
namespace {

namespace fs = std::filesystem;

// ---------- fixture writers ----------

void put16(std::string& s, uint32_t v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>((v >> 8) & 0xff));
}
void put32(std::string& s, uint32_t v) {
  put16(s, v & 0xffff);
  put16(s, v >> 16);
}
void put64(std::string& s, uint64_t v) {
  put32(s, static_cast<uint32_t>(v));
  put32(s, static_cast<uint32_t>(v >> 32));
}

std::string deflateRaw(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct ZipEntry {
  std::string name;
  std::string data;
  bool deflated = false;
  // >= 0: pad the local header's extra field so that the .npy array data starts at this offset
  // modulo 16 in the file (0: aligned, viewed in place; else copied per batch).
  int data_mod16 = -1;
};

// kPlain: a classic zip. kNumpy: as np.savez / np.savez_compressed write it (Python's zipfile with
// force_zip64: local headers carry 0xFFFFFFFF sizes and a zip64 extra, the central directory is
// classic). kZip64: zip64 everywhere, with the zip64 end of central directory (large archives).
enum class ZipStyle { kPlain, kNumpy, kZip64 };

std::string makeZip(const std::vector<ZipEntry>& entries, ZipStyle style = ZipStyle::kNumpy) {
  const bool local64 = style != ZipStyle::kPlain, zip64 = style == ZipStyle::kZip64;
  std::string zip, central;
  for (const ZipEntry& e : entries) {
    const std::string stored = e.deflated ? deflateRaw(e.data) : e.data;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(e.data.data()), static_cast<uInt>(e.data.size())));
    const uint64_t offset = zip.size();
    std::string extra;
    if (local64) {  // local zip64 extra: sizes
      put16(extra, 1), put16(extra, 16), put64(extra, e.data.size()), put64(extra, stored.size());
    }
    if (e.data_mod16 >= 0) {
      auto info = parseNpyHeader(e.data.data(), e.data.size(), e.name);
      EXPECT_TRUE(info.isOk());
      const size_t before = offset + 30 + e.name.size() + extra.size() + 4 + info->data_offset;
      const size_t pad = (static_cast<size_t>(e.data_mod16) + 16 - before % 16) % 16;
      put16(extra, 0xCAFE), put16(extra, static_cast<uint32_t>(pad));
      extra.append(pad, '\0');
      EXPECT_EQ((offset + 30 + e.name.size() + extra.size() + info->data_offset) % 16, static_cast<size_t>(e.data_mod16));
    }
    put32(zip, 0x04034b50), put16(zip, local64 ? 45 : 20), put16(zip, 0), put16(zip, e.deflated ? 8 : 0), put16(zip, 0), put16(zip, 0);
    put32(zip, crc), put32(zip, local64 ? 0xFFFFFFFF : stored.size()), put32(zip, local64 ? 0xFFFFFFFF : e.data.size());
    put16(zip, static_cast<uint32_t>(e.name.size())), put16(zip, static_cast<uint32_t>(extra.size()));
    zip += e.name + extra + stored;
    std::string cextra;
    if (zip64) {
      put16(cextra, 1), put16(cextra, 24), put64(cextra, e.data.size()), put64(cextra, stored.size()), put64(cextra, offset);
    }
    put32(central, 0x02014b50), put16(central, 45), put16(central, zip64 ? 45 : 20), put16(central, 0), put16(central, e.deflated ? 8 : 0);
    put16(central, 0), put16(central, 0), put32(central, crc);
    put32(central, zip64 ? 0xFFFFFFFF : stored.size()), put32(central, zip64 ? 0xFFFFFFFF : e.data.size());
    put16(central, static_cast<uint32_t>(e.name.size())), put16(central, static_cast<uint32_t>(cextra.size())), put16(central, 0);
    put16(central, 0), put16(central, 0), put32(central, 0), put32(central, zip64 ? 0xFFFFFFFF : offset);
    central += e.name + cextra;
  }
  const uint64_t cd_offset = zip.size();
  zip += central;
  if (zip64) {
    const uint64_t z64 = zip.size();
    put32(zip, 0x06064b50), put64(zip, 44), put16(zip, 45), put16(zip, 45), put32(zip, 0), put32(zip, 0);
    put64(zip, entries.size()), put64(zip, entries.size()), put64(zip, central.size()), put64(zip, cd_offset);
    put32(zip, 0x07064b50), put32(zip, 0), put64(zip, z64), put32(zip, 1);
  }
  put32(zip, 0x06054b50), put16(zip, 0), put16(zip, 0);
  put16(zip, zip64 ? 0xFFFF : entries.size()), put16(zip, zip64 ? 0xFFFF : entries.size());
  put32(zip, zip64 ? 0xFFFFFFFF : central.size()), put32(zip, zip64 ? 0xFFFFFFFF : cd_offset), put16(zip, 0);
  return zip;
}

// .npy bytes of a tensor (written by writeNpy, tested elsewhere).
std::string npyBytes(const Tensor& t) {
  const std::string path = test::makeTempDir() + "/a.npy";
  EXPECT_TRUE(writeNpy(path, t, true).isOk());
  return test::readFile(path);
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.dataAs<T>(), t.dataAs<T>() + t.elementCount());
}

std::vector<uint8_t> bytesOf(const Tensor& t) { return values<uint8_t>(t); }

data_sources::OpenedData openOk(const std::string& path, const DataOptions& options = {}) {
  auto opened = data_sources::open(path, options);
  EXPECT_TRUE(opened.isOk()) << opened.status().message();
  if (!opened) return {};
  return std::move(opened).value();
}

// The error of opening `path`; checks that it is one line naming `names`.
std::string openError(const std::string& path, const std::string& names, const DataOptions& options = {}) {
  auto opened = data_sources::open(path, options);
  EXPECT_FALSE(opened.isOk()) << path << " opened";
  if (opened) return "";
  const std::string& message = opened.status().message();
  EXPECT_NE(message.find(names), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  return message;
}

// ---------- .npz ----------

struct NpzFixture {
  Tensor x = Tensor::fromValues<float>(DType::kFloat, {3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor mask = Tensor::fromValues<int64_t>(DType::kInt64, {3}, {7, -8, 9});
  Tensor bytes = Tensor::fromValues<uint8_t>(DType::kUInt8, {3, 4}, {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23});
  // arr_0 stored with its data 16-byte aligned (viewed), mask deflated, arr_1 stored misaligned (copied).
  std::vector<ZipEntry> entries() const {
    return {{"arr_0.npy", npyBytes(x), false, 0}, {"mask.npy", npyBytes(mask), true}, {"arr_1.npy", npyBytes(bytes), false, 3}};
  }
};

void checkNpzSources(const data_sources::NamedSources& sources) {
  ASSERT_EQ(sources.size(), 3u);
  EXPECT_EQ(sources[0].first, "#0");
  EXPECT_EQ(sources[1].first, "mask");
  EXPECT_EQ(sources[2].first, "#1");
  const SampleSource& x = *sources[0].second;
  EXPECT_EQ(x.count(), 3);
  EXPECT_EQ(x.dtype(), DType::kFloat);
  EXPECT_EQ(x.sampleShape(), (std::vector<int64_t>{2}));
  auto xb = x.read(1, 2);
  ASSERT_TRUE(xb.isOk());
  EXPECT_EQ(xb->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(values<float>(*xb), (std::vector<float>{3, 4, 5, 6}));
  auto mb = sources[1].second->read(0, 3);
  ASSERT_TRUE(mb.isOk());
  EXPECT_EQ(values<int64_t>(*mb), (std::vector<int64_t>{7, -8, 9}));
  auto bb = sources[2].second->read(2, 1);
  ASSERT_TRUE(bb.isOk());
  EXPECT_EQ(bb->shape, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(bytesOf(*bb), (std::vector<uint8_t>{20, 21, 22, 23}));
  EXPECT_FALSE(sources[2].second->read(2, 2).isOk());
}

TEST(DataSources, NpzStoredAndDeflated) {
  NpzFixture f;
  for (ZipStyle style : {ZipStyle::kNumpy, ZipStyle::kPlain, ZipStyle::kZip64}) {
    SCOPED_TRACE(static_cast<int>(style));
    const std::string path = test::makeTempDir() + "/d.npz";
    test::writeFile(path, makeZip(f.entries(), style));
    checkNpzSources(openOk(path).sources);
  }
}

TEST(DataSources, NpzEveryTruncationAndCorruptionIsAnError) {
  NpzFixture f;
  const std::string dir = test::makeTempDir();
  for (ZipStyle style : {ZipStyle::kNumpy, ZipStyle::kZip64}) {
    SCOPED_TRACE(static_cast<int>(style));
    const std::string zip = makeZip(f.entries(), style);
    // (Each case gets a new file: rewriting one file in place is slow on ext4, which flushes on truncation.)
    for (size_t cut = 0; cut < zip.size(); ++cut) {
      const std::string path = dir + "/cut" + std::to_string(cut) + ".npz";
      test::writeFile(path, zip.substr(0, cut));
      openError(path, "'" + path + "'");
      fs::remove(path);
    }
    // Flipping any byte must never crash; it usually errors (stored payload bytes may just change values).
    int errors = 0;
    for (size_t i = 0; i < zip.size(); ++i) {
      std::string bad = zip;
      bad[i] = static_cast<char>(bad[i] ^ 0x5A);
      const std::string path = dir + "/flip" + std::to_string(i) + ".npz";
      test::writeFile(path, bad);
      auto opened = data_sources::open(path, {});
      fs::remove(path);
      if (!opened) {
        ++errors;
        EXPECT_NE(opened.status().message().find(path), std::string::npos) << opened.status().message();
        continue;
      }
      for (auto& [name, source] : opened->sources) (void)source->read(0, source->count());
    }
    EXPECT_GT(errors, 0);
  }
  const std::string path = dir + "/t.npz";
  // Deflated payload corrupted: CRC or inflate error naming the entry.
  std::vector<ZipEntry> one = {{"x.npy", npyBytes(f.x), true}};
  std::string z = makeZip(one, ZipStyle::kPlain);
  z[30 + 5 + 10] = static_cast<char>(z[30 + 5 + 10] ^ 0xFF);
  test::writeFile(path, z);
  openError(path, "entry 'x.npy'");
  // Not a zip at all.
  test::writeFile(path, "PK but not really a zip file, just text");
  openError(path, "'" + path + "'");
  // Unsupported method.
  std::string bzip = makeZip({{"x.npy", npyBytes(f.x)}}, ZipStyle::kPlain);
  bzip[8] = 12;  // local header method
  const size_t cd = bzip.find(std::string("PK\x01\x02", 4));
  bzip[cd + 10] = 12;
  test::writeFile(path, bzip);
  EXPECT_NE(openError(path, "'x.npy'").find("method 12"), std::string::npos);
}

// A tiny model with inputs x: float[N,2] and mask: int64[N].
std::unique_ptr<Session> twoInputSession() {
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,2] x, int64[N] mask) => (float[N,2] y) { y = Identity(x) }
)");
  auto model = importModel(proto, "");
  EXPECT_TRUE(model.isOk());
  static std::vector<std::unique_ptr<Model>> keep;  // the session refers to the model
  keep.push_back(std::make_unique<Model>(std::move(model).value()));
  auto session = Session::create(*keep.back());
  EXPECT_TRUE(session.isOk());
  return std::move(session).value();
}

TEST(DataSources, NpzBindsPositionalAndNamedArrays) {
  NpzFixture f;
  const std::string dir = test::makeTempDir();
  auto session = twoInputSession();
  // arr_0 -> first input (x); "mask" by name.
  test::writeFile(dir + "/ok.npz", makeZip({{"arr_0.npy", npyBytes(f.x)}, {"mask.npy", npyBytes(f.mask), true}}));
  Dataset dataset;
  ASSERT_TRUE(addDataSpec(dataset, *session, dir + "/ok.npz").isOk());
  ASSERT_TRUE(dataset.validate(*session).isOk()) << dataset.validate(*session).message();
  auto batch = dataset.batch(*session, 1, 2);
  ASSERT_TRUE(batch.isOk()) << batch.status().message();
  EXPECT_EQ((*batch)[0].first, "x");
  EXPECT_EQ(values<float>((*batch)[0].second), (std::vector<float>{3, 4, 5, 6}));
  EXPECT_EQ(values<int64_t>((*batch)[1].second), (std::vector<int64_t>{-8, 9}));
  // NAME=PATH binds a single-array .npz whatever its array is called.
  test::writeFile(dir + "/one.npz", makeZip({{"whatever.npy", npyBytes(f.mask)}}));
  Dataset named;
  ASSERT_TRUE(addDataSpec(named, *session, "mask=" + dir + "/one.npz").isOk());
  EXPECT_EQ(named.inputs()[0].first, "mask");
  // NAME= with several arrays is refused; so is a positional array beyond the model's inputs.
  Dataset refused;
  EXPECT_FALSE(addDataSpec(refused, *session, "x=" + dir + "/ok.npz").isOk());
  test::writeFile(dir + "/many.npz", makeZip({{"arr_5.npy", npyBytes(f.mask)}}));
  auto status = addDataSpec(refused, *session, dir + "/many.npz");
  EXPECT_NE(status.message().find("#5"), std::string::npos) << status.message();
}

// ---------- ONNX test data folders ----------

void writeTensorPb(const std::string& path, const std::string& name, int32_t type, const std::vector<int64_t>& dims, const std::string& raw) {
  onnx::TensorProto proto;
  if (!name.empty()) proto.set_name(name);
  proto.set_data_type(type);
  for (int64_t d : dims) proto.add_dims(d);
  proto.set_raw_data(raw);
  std::string bytes;
  ASSERT_TRUE(proto.SerializeToString(&bytes));
  fs::create_directories(fs::path(path).parent_path());
  test::writeFile(path, bytes);
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

TEST(DataSources, OnnxTestDataSetsConcatenate) {
  const std::string dir = test::makeTempDir() + "/model";
  // 11 sets so that test_data_set_10 must come after test_data_set_9 (numeric order).
  for (int k = 0; k <= 10; ++k) {
    const std::string set = dir + "/test_data_set_" + std::to_string(k);
    writeTensorPb(set + "/input_0.pb", "x", onnx::TensorProto::FLOAT, {1, 2}, raw<float>({float(k), float(k) + 0.5f}));
    writeTensorPb(set + "/input_1.pb", "", onnx::TensorProto::INT64, {1}, raw<int64_t>({100 + k}));
    writeTensorPb(set + "/output_0.pb", "y", onnx::TensorProto::FLOAT, {1, 2}, raw<float>({0, 0}));
  }
  auto opened = openOk(dir);
  ASSERT_EQ(opened.sources.size(), 2u);
  EXPECT_EQ(opened.sources[0].first, "x");
  EXPECT_EQ(opened.sources[1].first, "#1");
  const SampleSource& x = *opened.sources[0].second;
  EXPECT_EQ(x.count(), 11);
  EXPECT_EQ(x.sampleShape(), (std::vector<int64_t>{2}));
  auto all = x.read(0, 11);
  ASSERT_TRUE(all.isOk());
  std::vector<float> expected;
  for (int k = 0; k <= 10; ++k) expected.insert(expected.end(), {float(k), float(k) + 0.5f});
  EXPECT_EQ(values<float>(*all), expected);
  auto ids = opened.sources[1].second->read(9, 2);
  ASSERT_TRUE(ids.isOk());
  EXPECT_EQ(values<int64_t>(*ids), (std::vector<int64_t>{109, 110}));
  EXPECT_FALSE(opened.labels.has_value());

  // Binding: "x" by name, "#1" = the model's second input (mask).
  auto session = twoInputSession();
  Dataset dataset;
  ASSERT_TRUE(addDataSpec(dataset, *session, dir).isOk());
  ASSERT_TRUE(dataset.validate(*session).isOk()) << dataset.validate(*session).message();
  EXPECT_EQ(dataset.size(), 11);

  // One set given directly (input_*.pb in the folder).
  auto single = openOk(dir + "/test_data_set_3");
  ASSERT_EQ(single.sources.size(), 2u);
  auto s = single.sources[0].second->read(0, 1);
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(values<float>(*s), (std::vector<float>{3, 3.5f}));
}

TEST(DataSources, OnnxTestDataErrorsNameTheFile) {
  const std::string dir = test::makeTempDir() + "/bad";
  writeTensorPb(dir + "/test_data_set_0/input_0.pb", "x", onnx::TensorProto::FLOAT, {1, 2}, raw<float>({1, 2}));
  writeTensorPb(dir + "/test_data_set_1/input_0.pb", "x", onnx::TensorProto::FLOAT, {1, 3}, raw<float>({1, 2, 3}));
  openError(dir, "test_data_set_1/input_0.pb");
  // Corrupt protobuf bytes.
  const std::string corrupt = test::makeTempDir() + "/corrupt";
  fs::create_directories(corrupt);
  test::writeFile(corrupt + "/input_0.pb", std::string("\xff\xff\xff\xff garbage", 12));
  openError(corrupt, "input_0.pb");
  // Data shorter than the dims say.
  const std::string shorter = test::makeTempDir() + "/short";
  writeTensorPb(shorter + "/input_0.pb", "x", onnx::TensorProto::FLOAT, {2, 2}, raw<float>({1, 2}));
  openError(shorter, "input_0.pb");
}

// ---------- idx ----------

std::string idxBytes(uint8_t type, const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    s.push_back(static_cast<char>(d >> 24)), s.push_back(static_cast<char>(d >> 16));
    s.push_back(static_cast<char>(d >> 8)), s.push_back(static_cast<char>(d));
  }
  return s + data;
}

void writeGz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

TEST(DataSources, IdxImagesAndLabelsPlainAndGz) {
  const std::string dir = test::makeTempDir();
  std::string pixels;
  for (int i = 0; i < 2 * 3 * 4; ++i) pixels.push_back(static_cast<char>(i * 10));
  const std::string images = idxBytes(0x08, {2, 3, 4}, pixels);
  const std::string labels = idxBytes(0x08, {2}, std::string("\x07\x02", 2));
  test::writeFile(dir + "/images-idx3-ubyte", images);
  writeGz(dir + "/images-idx3-ubyte.gz", images);
  test::writeFile(dir + "/labels-idx1-ubyte", labels);
  writeGz(dir + "/labels-idx1-ubyte.gz", labels);
  for (const std::string name : {"/images-idx3-ubyte", "/images-idx3-ubyte.gz"}) {
    auto opened = openOk(dir + name);
    ASSERT_EQ(opened.sources.size(), 1u);
    const SampleSource& s = *opened.sources[0].second;
    EXPECT_EQ(s.count(), 2);
    EXPECT_EQ(s.dtype(), DType::kUInt8);
    EXPECT_EQ(s.sampleShape(), (std::vector<int64_t>{1, 3, 4}));
    auto second = s.read(1, 1);
    ASSERT_TRUE(second.isOk());
    EXPECT_EQ(second->shape, (std::vector<int64_t>{1, 1, 3, 4}));
    EXPECT_EQ(second->bytes()[0], 120);
    EXPECT_EQ(second->bytes()[11], 230);
  }
  for (const std::string name : {"/labels-idx1-ubyte", "/labels-idx1-ubyte.gz"}) {
    auto l = readLabels(dir + name);
    ASSERT_TRUE(l.isOk()) << l.status().message();
    EXPECT_EQ(*l, (std::vector<int64_t>{7, 2}));
  }
  // Images are not labels.
  auto wrong = readLabels(dir + "/images-idx3-ubyte.gz");
  ASSERT_FALSE(wrong.isOk());
  EXPECT_NE(wrong.status().message().find("[2,3,4]"), std::string::npos) << wrong.status().message();
  // Multi-byte idx elements are big-endian.
  std::string be = idxBytes(0x0C, {2}, std::string("\x00\x00\x01\x02\xff\xff\xff\xfe", 8));
  test::writeFile(dir + "/i32-idx1", be);
  auto i32 = readLabels(dir + "/i32-idx1");
  ASSERT_TRUE(i32.isOk()) << i32.status().message();
  EXPECT_EQ(*i32, (std::vector<int64_t>{258, -2}));
}

TEST(DataSources, IdxErrorsNameTheFile) {
  const std::string dir = test::makeTempDir();
  std::string pixels(2 * 3 * 4, '\x05');
  const std::string images = idxBytes(0x08, {2, 3, 4}, pixels);
  // Wrong magic (an unknown element type): not recognized as data at all, or rejected by name.
  std::string bad = images;
  bad[2] = 0x07;
  test::writeFile(dir + "/bad-magic", bad);
  openError(dir + "/bad-magic", "bad-magic");
  writeGz(dir + "/bad-magic.gz", bad);
  EXPECT_NE(openError(dir + "/bad-magic.gz", "bad-magic.gz").find("magic"), std::string::npos);
  // Plain file: truncated and too long.
  test::writeFile(dir + "/short", images.substr(0, images.size() - 1));
  openError(dir + "/short", "'" + dir + "/short'");
  test::writeFile(dir + "/long", images + "x");
  openError(dir + "/long", "'" + dir + "/long'");
  // gz: every truncation, and corrupted compressed bytes.
  writeGz(dir + "/ok.gz", images);
  const std::string gz = test::readFile(dir + "/ok.gz");
  for (size_t cut = 2; cut < gz.size(); ++cut) {
    const std::string path = dir + "/cut" + std::to_string(cut) + ".gz";
    test::writeFile(path, gz.substr(0, cut));
    openError(path, path);
    EXPECT_FALSE(readLabels(path).isOk());
  }
  for (size_t i = 10; i < gz.size(); ++i) {  // past the gzip header: data, CRC, length
    std::string flipped = gz;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    const std::string path = dir + "/flip" + std::to_string(i) + ".gz";
    test::writeFile(path, flipped);
    EXPECT_NE(openError(path, path).find("gzip"), std::string::npos);
  }
}

TEST(DataSources, FashionMnistFromDebian) {
  const std::string root = "/usr/share/datasets/fashion-mnist/";
  if (!fs::exists(root + "t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  auto opened = openOk(root + "t10k-images-idx3-ubyte.gz");
  ASSERT_EQ(opened.sources.size(), 1u);
  const SampleSource& images = *opened.sources[0].second;
  EXPECT_EQ(images.count(), 10000);
  EXPECT_EQ(images.sampleShape(), (std::vector<int64_t>{1, 28, 28}));
  auto labels = readLabels(root + "t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(labels.isOk()) << labels.status().message();
  ASSERT_EQ(labels->size(), 10000u);
  for (int64_t l : *labels) EXPECT_TRUE(l >= 0 && l <= 9);
  auto last = images.read(9999, 1);
  ASSERT_TRUE(last.isOk());
  EXPECT_EQ(last->shape, (std::vector<int64_t>{1, 1, 28, 28}));
}

TEST(DataSources, FashionMnistMatchesNpyReference) {
  const std::string root = "/usr/share/datasets/fashion-mnist/";
  const std::string npy = test::sourceDir() + "/models/data/fashion_mnist_test_2000_x.npy";
  if (!fs::exists(root + "t10k-images-idx3-ubyte.gz") || !fs::exists(npy)) GTEST_SKIP() << "needs dataset-fashion-mnist and " << npy;
  auto opened = openOk(root + "t10k-images-idx3-ubyte.gz");
  ASSERT_EQ(opened.sources.size(), 1u);
  const SampleSource& images = *opened.sources[0].second;
  auto reference = readNpy(npy);
  ASSERT_TRUE(reference.isOk()) << reference.status().message();
  ASSERT_EQ(reference->elementCount(), 2000 * 784);
  auto first = images.read(0, 2000);
  ASSERT_TRUE(first.isOk());
  const uint8_t* raw = first->bytes();
  // The reference may hold the raw bytes, or floats: raw values, or raw / 255 (max <= 1).
  ASSERT_TRUE(reference->dtype == DType::kUInt8 || reference->dtype == DType::kFloat) << dtypeName(reference->dtype);
  auto at = [&](int64_t i) -> double {
    return reference->dtype == DType::kUInt8 ? reference->dataAs<uint8_t>()[i] : reference->dataAs<float>()[i];
  };
  double max = 0;
  for (int64_t i = 0; i < 2000 * 784; ++i) max = std::max(max, at(i));
  const double factor = reference->dtype == DType::kFloat && max <= 1.0 ? 255.0 : 1.0;
  for (int64_t i = 0; i < 2000 * 784; ++i) {
    const double ref = at(i) * factor;
    ASSERT_NEAR(ref, raw[i], 1e-3) << "element " << i;
  }
}

// ---------- image folders ----------

// An RGB image whose pixel (x, y) is (base + 10x + y, 2x, 3y + 1).
void writeRgb(const std::string& path, int w, int h, int base) {
  std::vector<uint8_t> pixels;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) pixels.insert(pixels.end(), {uint8_t(base + 10 * x + y), uint8_t(2 * x), uint8_t(3 * y + 1)});
  fs::create_directories(fs::path(path).parent_path());
  ASSERT_NE(stbi_write_png(path.c_str(), w, h, 3, pixels.data(), w * 3), 0);
}

void writeGray(const std::string& path, int w, int h, const std::vector<uint8_t>& pixels) {
  fs::create_directories(fs::path(path).parent_path());
  ASSERT_NE(stbi_write_png(path.c_str(), w, h, 1, pixels.data(), w), 0);
}

TEST(DataSources, FlatImageFolderLayouts) {
  const std::string dir = test::makeTempDir() + "/flat";
  writeRgb(dir + "/b.png", 4, 2, 100);
  writeRgb(dir + "/a.png", 4, 2, 0);
  test::writeFile(dir + "/notes.txt", "not an image");
  auto opened = openOk(dir);
  ASSERT_EQ(opened.sources.size(), 1u);
  EXPECT_FALSE(opened.labels.has_value());
  const SampleSource& s = *opened.sources[0].second;
  EXPECT_EQ(s.count(), 2);
  EXPECT_EQ(s.dtype(), DType::kUInt8);
  EXPECT_EQ(s.sampleShape(), (std::vector<int64_t>{3, 2, 4}));
  auto b = s.read(0, 2);
  ASSERT_TRUE(b.isOk()) << b.status().message();
  const uint8_t* p = b->bytes();
  // Sample 0 is a.png (sorted by name); CHW: channel 0 row 1 = base + 10x + 1.
  EXPECT_EQ(p[4], 1);
  EXPECT_EQ(p[5], 11);
  EXPECT_EQ(p[7], 31);
  EXPECT_EQ(p[8 + 3], 6);       // channel 1 (2x) at (3, 0)
  EXPECT_EQ(p[16 + 4], 4);      // channel 2 (3y + 1) at (0, 1)
  EXPECT_EQ(p[24 + 0], 100);    // sample 1 = b.png
  // NHWC and BGR.
  DataOptions options;
  options.image.nhwc = true;
  options.image.bgr = true;
  auto nhwc = openOk(dir, options);
  EXPECT_EQ(nhwc.sources[0].second->sampleShape(), (std::vector<int64_t>{2, 4, 3}));
  auto n = nhwc.sources[0].second->read(0, 1);
  ASSERT_TRUE(n.isOk());
  // pixel (x=1, y=1): R = 11, G = 2, B = 4 -> stored B, G, R.
  const uint8_t* q = n->bytes() + (1 * 4 + 1) * 3;
  EXPECT_EQ(q[0], 4);
  EXPECT_EQ(q[1], 2);
  EXPECT_EQ(q[2], 11);
  // Forced grayscale: luma of stb ((77 R + 150 G + 29 B) >> 8).
  options = {};
  options.image.grayscale = true;
  auto gray = openOk(dir, options);
  EXPECT_EQ(gray.sources[0].second->sampleShape(), (std::vector<int64_t>{1, 2, 4}));
  auto g = gray.sources[0].second->read(0, 1);
  ASSERT_TRUE(g.isOk());
  EXPECT_EQ(g->bytes()[5], (77 * 11 + 150 * 2 + 29 * 4) >> 8);
}

TEST(DataSources, JpegImages) {
  const std::string dir = test::makeTempDir() + "/jpeg";
  fs::create_directories(dir);
  std::vector<uint8_t> pixels;
  for (int i = 0; i < 16 * 8; ++i) pixels.insert(pixels.end(), {200, 100, 50});
  ASSERT_NE(stbi_write_jpg((dir + "/a.JPG").c_str(), 16, 8, 3, pixels.data(), 95), 0);
  ASSERT_NE(stbi_write_jpg((dir + "/b.jpeg").c_str(), 16, 8, 3, pixels.data(), 95), 0);
  auto opened = openOk(dir);
  const SampleSource& s = *opened.sources[0].second;
  EXPECT_EQ(s.count(), 2);
  EXPECT_EQ(s.sampleShape(), (std::vector<int64_t>{3, 8, 16}));
  auto b = s.read(0, 2);
  ASSERT_TRUE(b.isOk()) << b.status().message();
  // Lossy: a flat color comes back within a few levels.
  for (int i = 0; i < 2 * 3 * 8 * 16; ++i) {
    const int expected = (i / (8 * 16)) % 3 == 0 ? 200 : (i / (8 * 16)) % 3 == 1 ? 100 : 50;
    ASSERT_NEAR(b->bytes()[i], expected, 4) << i;
  }
}

TEST(DataSources, GrayImagesResizeAndCrop) {
  const std::string dir = test::makeTempDir() + "/gray";
  writeGray(dir + "/0.png", 2, 2, {0, 100, 0, 100});
  auto opened = openOk(dir);  // auto: 1 channel for gray images
  EXPECT_EQ(opened.sources[0].second->sampleShape(), (std::vector<int64_t>{1, 2, 2}));
  // Upscale 2x2 -> 4x4: half-pixel centers sample x at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
  DataOptions options;
  options.image.resize = 4;
  auto up = openOk(dir, options);
  EXPECT_EQ(up.sources[0].second->sampleShape(), (std::vector<int64_t>{1, 4, 4}));
  auto u = up.sources[0].second->read(0, 1);
  ASSERT_TRUE(u.isOk()) << u.status().message();
  EXPECT_EQ(std::vector<uint8_t>(u->bytes(), u->bytes() + 4), (std::vector<uint8_t>{0, 25, 75, 100}));
  // Forced 3 channels replicate gray.
  options.image.grayscale = false;
  auto rgb = openOk(dir, options);
  EXPECT_EQ(rgb.sources[0].second->sampleShape(), (std::vector<int64_t>{3, 4, 4}));
  // Resize 8x4 -> shorter side 2 (4x2): each output pixel averages a 2x2 block; then crop 2 takes
  // the centre columns 1..2.
  const std::string big = test::makeTempDir() + "/big";
  std::vector<uint8_t> pixels;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x) pixels.push_back(static_cast<uint8_t>(10 * x + 2 * y));
  writeGray(big + "/img.png", 8, 4, pixels);
  options = {};
  options.image.resize = 2;
  auto down = openOk(big, options);
  EXPECT_EQ(down.sources[0].second->sampleShape(), (std::vector<int64_t>{1, 2, 4}));
  auto d = down.sources[0].second->read(0, 1);
  ASSERT_TRUE(d.isOk());
  // block (0,0): x 0..1, y 0..1 -> mean 10*0.5 + 2*0.5 = 6; block (1,0) -> 26; row 1 adds 4.
  EXPECT_EQ(std::vector<uint8_t>(d->bytes(), d->bytes() + 8), (std::vector<uint8_t>{6, 26, 46, 66, 10, 30, 50, 70}));
  options.image.crop = 2;
  auto cropped = openOk(big, options);
  EXPECT_EQ(cropped.sources[0].second->sampleShape(), (std::vector<int64_t>{1, 2, 2}));
  auto c = cropped.sources[0].second->read(0, 1);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(std::vector<uint8_t>(c->bytes(), c->bytes() + 4), (std::vector<uint8_t>{26, 46, 30, 50}));
  // Crop without resize: 8x4 -> centre 2x2 at (3, 1).
  options.image.resize = 0;
  auto c2 = openOk(big, options).sources[0].second->read(0, 1);
  ASSERT_TRUE(c2.isOk());
  EXPECT_EQ(std::vector<uint8_t>(c2->bytes(), c2->bytes() + 4), (std::vector<uint8_t>{32, 42, 34, 44}));
  // Crop larger than the image.
  options.image.crop = 5;
  EXPECT_NE(openError(big, "img.png", options).find("--resize"), std::string::npos);
}

TEST(DataSources, ClassFolderGivesLabels) {
  const std::string dir = test::makeTempDir() + "/classes";
  writeRgb(dir + "/dog/1.png", 3, 3, 0);
  writeRgb(dir + "/cat/2.png", 3, 3, 50);
  writeRgb(dir + "/cat/1.png", 3, 3, 40);
  fs::create_directories(dir + "/empty");
  writeRgb(dir + "/zebra/z.png", 3, 3, 90);
  auto opened = openOk(dir);
  ASSERT_TRUE(opened.labels.has_value());
  EXPECT_EQ(*opened.labels, (std::vector<int64_t>{0, 0, 1, 3}));  // cat, cat, dog, (empty), zebra
  auto first = opened.sources[0].second->read(0, 4);
  ASSERT_TRUE(first.isOk());
  EXPECT_EQ(first->bytes()[0], 40);          // cat/1.png
  EXPECT_EQ(first->bytes()[27 * 3], 90);     // zebra/z.png
  auto classes = imageFolderClasses(dir);
  ASSERT_TRUE(classes.isOk());
  EXPECT_EQ(classes->names, (std::vector<std::string>{"cat", "dog", "empty", "zebra"}));
  auto labels = readLabels(dir);
  ASSERT_TRUE(labels.isOk());
  EXPECT_EQ(*labels, (std::vector<int64_t>{0, 0, 1, 3}));

  // addDataSpec sets the labels unless the dataset has some; preprocessing turns uint8 to float.
  auto proto = test::parseText(R"(
<ir_version: 8, opset_import: ["" : 17]>
g (float[N,3,3,3] img) => (float[N,3,3,3] y) { y = Identity(img) }
)");
  auto model = importModel(proto, "");
  ASSERT_TRUE(model.isOk());
  auto session = Session::create(*model);
  ASSERT_TRUE(session.isOk());
  Dataset dataset;
  ASSERT_TRUE(addDataSpec(dataset, **session, dir, DataOptions{}).isOk());
  ASSERT_TRUE(dataset.hasLabels());
  EXPECT_EQ(*dataset.labels(), (std::vector<int64_t>{0, 0, 1, 3}));
  ASSERT_TRUE(dataset.validate(**session).isOk());
  Preprocess pre;
  pre.scale = 1.0 / 255;
  dataset.setPreprocess(pre);
  auto batch = dataset.batch(**session, 3, 1);
  ASSERT_TRUE(batch.isOk()) << batch.status().message();
  EXPECT_FLOAT_EQ((*batch)[0].second.dataAs<float>()[0], 90.0f / 255);
  Dataset labelled;
  labelled.setLabels({9, 9, 9, 9});
  ASSERT_TRUE(addDataSpec(labelled, **session, "img=" + dir).isOk());
  EXPECT_EQ(*labelled.labels(), (std::vector<int64_t>{9, 9, 9, 9}));
  // A flat folder has no classes.
  EXPECT_FALSE(imageFolderClasses(dir + "/cat").isOk());
}

TEST(DataSources, ImageFolderErrorsNameTheFile) {
  const std::string dir = test::makeTempDir() + "/mixed";
  writeRgb(dir + "/a.png", 4, 4, 0);
  writeRgb(dir + "/b.png", 5, 4, 0);
  EXPECT_NE(openError(dir, "b.png").find("--resize"), std::string::npos);
  // --resize alone does not help different aspect ratios, --crop does.
  DataOptions options;
  options.image.resize = 4;
  openError(dir, "b.png", options);
  options.image.crop = 4;
  EXPECT_EQ(openOk(dir, options).sources[0].second->sampleShape(), (std::vector<int64_t>{3, 4, 4}));
  // Undecodable image.
  const std::string broken = test::makeTempDir() + "/broken";
  writeRgb(broken + "/a.png", 4, 4, 0);
  test::writeFile(broken + "/b.png", "\x89PNG but not really");
  openError(broken, "b.png");
  // A PNG whose header is fine but whose data is cut: found when the batch is decoded.
  const std::string cut = test::makeTempDir() + "/cut";
  writeRgb(cut + "/a.png", 16, 16, 0);
  const std::string png = test::readFile(cut + "/a.png");
  test::writeFile(cut + "/a.png", png.substr(0, 40));
  auto opened = data_sources::open(cut, {});
  if (opened) {
    auto batch = opened->sources[0].second->read(0, 1);
    ASSERT_FALSE(batch.isOk());
    EXPECT_NE(batch.status().message().find("a.png"), std::string::npos) << batch.status().message();
  } else {
    EXPECT_NE(opened.status().message().find("a.png"), std::string::npos);
  }
  // Images and subfolders mixed; an empty folder.
  fs::create_directories(dir + "/sub");
  openError(dir, "subfolder");
  const std::string empty = test::makeTempDir() + "/empty";
  fs::create_directories(empty);
  openError(empty, "no images");
  // Unknown file kind; missing path.
  test::writeFile(empty + "/x.bin", "hello");
  openError(empty + "/x.bin", "unknown kind");
  openError(empty + "/missing.npy", "missing.npy");
}

}  // namespace
}  // namespace nnc

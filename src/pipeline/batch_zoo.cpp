// See batch.h: reading a zoo (folder or manifest), picking a shard, and running the models of
// a batch on worker threads.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "nncompress/pipeline/batch.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;

Expected<std::vector<ZooEntry>> readFolder(const std::string& folder) {
  std::vector<ZooEntry> entries;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(folder, ec)) {
    if (item.path().extension() != ".onnx") continue;
    ZooEntry entry;
    entry.name = item.path().stem().string();
    entry.path = item.path().string();
    entries.push_back(std::move(entry));
  }
  if (ec) return ioError(folder + ": cannot list the folder: " + ec.message());
  if (entries.empty()) return invalidArgument(folder + ": no .onnx files in the zoo folder");
  return entries;
}

// A manifest path relative to the manifest's folder; "NAME=PATH" specs keep their NAME.
std::string resolve(const fs::path& base, const std::string& spec) {
  size_t eq = spec.find('=');
  std::string name = eq == std::string::npos ? "" : spec.substr(0, eq + 1);
  std::string path = eq == std::string::npos ? spec : spec.substr(eq + 1);
  if (path.empty() || fs::path(path).is_absolute()) return spec;
  return name + (base / path).lexically_normal().string();
}

// A field that may be one string or a list of strings.
std::vector<std::string> stringList(const Json& value, const fs::path& base) {
  std::vector<std::string> out;
  if (value.is_string()) out.push_back(resolve(base, value.get<std::string>()));
  else
    for (const Json& item : value) out.push_back(resolve(base, item.get<std::string>()));
  return out;
}

Expected<std::vector<ZooEntry>> readManifest(const std::string& manifest) {
  std::ifstream in(manifest);
  if (!in) return ioError(manifest + ": cannot read the manifest");
  std::stringstream text;
  text << in.rdbuf();
  const fs::path base = fs::path(manifest).parent_path();
  std::vector<ZooEntry> entries;
  try {
    const Json json = Json::parse(text.str());
    const Json& models = json.at("models");
    if (!models.is_array()) return invalidArgument(manifest + ": 'models' must be a list");
    for (const Json& m : models) {
      ZooEntry entry;
      entry.path = resolve(base, m.at("path").get<std::string>());
      entry.name = m.contains("name") ? m["name"].get<std::string>() : fs::path(entry.path).stem().string();
      if (m.contains("data")) entry.data = stringList(m["data"], base);
      if (m.contains("labels")) entry.labels = resolve(base, m["labels"].get<std::string>());
      if (m.contains("calib_data")) entry.calib_data = stringList(m["calib_data"], base);
      if (m.contains("scale")) entry.scale = m["scale"].is_string() ? m["scale"].get<std::string>() : m["scale"].dump();
      if (m.contains("dims")) entry.dims = m["dims"].get<std::map<std::string, int64_t>>();
      if (m.contains("shapes")) entry.shapes = m["shapes"].get<std::map<std::string, std::vector<int64_t>>>();
      for (const auto& [key, value] : m.items())
        if (!std::set<std::string>{"name", "path", "data", "labels", "calib_data", "scale", "dims", "shapes"}.count(key))
          return invalidArgument(manifest + ": model '" + entry.name + "': unknown field '" + key + "'");
      entries.push_back(std::move(entry));
    }
  } catch (const nlohmann::json::exception& e) {
    return invalidArgument(manifest + ": not a valid zoo manifest (docs/batch.md): " + e.what());
  }
  if (entries.empty()) return invalidArgument(manifest + ": the manifest lists no models");
  return entries;
}

}  // namespace

Expected<std::vector<ZooEntry>> readZoo(const std::string& zoo) {
  std::error_code ec;
  Expected<std::vector<ZooEntry>> entries = fs::is_directory(zoo, ec) ? readFolder(zoo)
                                            : fs::is_regular_file(zoo, ec) ? readManifest(zoo)
                                                                           : Expected<std::vector<ZooEntry>>(ioError(zoo + ": no such zoo folder or manifest"));
  if (!entries) return entries;
  std::sort(entries->begin(), entries->end(), [](const ZooEntry& a, const ZooEntry& b) { return a.name < b.name; });
  for (size_t i = 0; i < entries->size(); ++i) {
    const std::string& name = (*entries)[i].name;
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
      return invalidArgument(zoo + ": model name '" + name + "' cannot name an output folder");
    if (i > 0 && (*entries)[i - 1].name == name) return invalidArgument(zoo + ": two models are named '" + name + "'");
  }
  return entries;
}

Expected<Shard> parseShard(const std::string& text) {
  Shard shard;
  size_t slash = text.find('/');
  try {
    size_t used_i = 0, used_n = 0;
    if (slash == std::string::npos) throw std::invalid_argument(text);
    shard.index = std::stoi(text.substr(0, slash), &used_i);
    shard.count = std::stoi(text.substr(slash + 1), &used_n);
    if (used_i != slash || used_n != text.size() - slash - 1) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    return invalidArgument("--shard: '" + text + "' is not I/N");
  }
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count)
    return invalidArgument("--shard: '" + text + "' needs 0 <= I < N (shards are numbered from 0)");
  return shard;
}

std::vector<ZooEntry> selectShard(const std::vector<ZooEntry>& sorted, const Shard& shard) {
  std::vector<ZooEntry> picked;
  for (size_t i = 0; i < sorted.size(); ++i)
    if (static_cast<int>(i % shard.count) == shard.index) picked.push_back(sorted[i]);
  return picked;
}

std::vector<BatchRow> runBatch(const std::vector<ZooEntry>& entries, int jobs, const std::function<BatchRow(const ZooEntry&)>& run,
                               const std::function<void(const BatchRow&, size_t, size_t)>& done) {
  std::vector<BatchRow> rows(entries.size());
  std::atomic<size_t> next{0};
  std::mutex report_mutex;
  size_t finished = 0;
  auto worker = [&]() {
    for (size_t i = next++; i < entries.size(); i = next++) {
      rows[i] = run(entries[i]);
      std::lock_guard<std::mutex> lock(report_mutex);
      ++finished;
      if (done) done(rows[i], finished, entries.size());
    }
  };
  const int threads = std::max(1, std::min<int>(jobs, static_cast<int>(entries.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  return rows;
}

}  // namespace nnc

// Calibration over a dataset (streaming histograms through the Session observer) and the
// ranges file (docs/ranges.md).
#include "nncompress/analysis/calibration.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "nncompress/support/file_io.h"

namespace nnc {

const ValueRange* ActivationRanges::find(const std::string& value_name) const {
  for (const ValueRange& v : values)
    if (v.name == value_name) return &v;
  return nullptr;
}

void ActivationRanges::applyOverrides(const ActivationRanges& pins) {
  for (const ValueRange& pin : pins.values) {
    if (!pin.pinned) continue;
    auto it = std::find_if(values.begin(), values.end(), [&](const ValueRange& v) { return v.name == pin.name; });
    if (it == values.end()) values.push_back(pin);
    else *it = pin;
  }
  for (const std::string& pattern : pins.float_nodes)
    if (std::find(float_nodes.begin(), float_nodes.end(), pattern) == float_nodes.end()) float_nodes.push_back(pattern);
}

namespace {

// FNV-1a, 64 bit: a stable digest (no library dependency, same on every platform).
class Fnv1a64 {
 public:
  void add(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < size; ++i) hash_ = (hash_ ^ p[i]) * 1099511628211ull;
  }
  void addInt(int64_t v) {
    uint8_t bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
    add(bytes, 8);
  }
  std::string hex() const {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash_));
    return text;
  }

 private:
  uint64_t hash_ = 1469598103934665603ull;
};

void digestTensor(Fnv1a64& digest, const std::string& name, const Tensor& t) {
  digest.add(name.data(), name.size());
  digest.addInt(static_cast<int64_t>(t.dtype));
  digest.addInt(static_cast<int64_t>(t.shape.size()));
  for (int64_t d : t.shape) digest.addInt(d);
  digest.add(t.bytes(), t.byteSize());
}

struct Entry {
  std::string name;
  ValueHistogram histogram;
};

}  // namespace

Expected<ActivationRanges> calibrate(const Model& model, const Dataset& dataset, const CalibrationOptions& options,
                                     int threads, const CalibrationProgress& progress) {
  if (options.batch_size <= 0) return invalidArgument("calibration batch size must be positive");
  if (options.method == RangeMethod::kPercentile && !(options.percentile > 0 && options.percentile <= 100))
    return invalidArgument("percentile must be in (0, 100], got " + std::to_string(options.percentile));
  NNC_ASSIGN_OR_RETURN(auto session, Session::create(model, {threads, nullptr}));
  NNC_RETURN_IF_ERROR(dataset.validate(*session));
  int64_t total = dataset.size();
  if (options.max_samples > 0) total = std::min(total, options.max_samples);
  if (total <= 0) return invalidArgument("the calibration data holds no samples");

  std::vector<Entry> entries;
  std::unordered_map<const Value*, size_t> index;  // lookup only; `entries` keeps execution order
  auto observe = [&](const Value& value, const Tensor& tensor) {
    if (tensor.dtype != DType::kFloat) return;
    if (value.producer() != nullptr && value.producer()->op_type == "Constant") return;
    auto it = index.find(&value);
    size_t i = 0;
    if (it == index.end()) {
      i = entries.size();
      entries.push_back({value.name(), ValueHistogram(options.bins, options.method != RangeMethod::kMinMax)});
      index.emplace(&value, i);
    } else {
      i = it->second;
    }
    entries[i].histogram.add(tensor.dataAs<float>(), tensor.elementCount());
  };
  const ValueObserver observer = observe;

  Fnv1a64 digest;
  for (int64_t begin = 0; begin < total; begin += options.batch_size) {
    const int64_t n = std::min(options.batch_size, total - begin);
    NNC_ASSIGN_OR_RETURN(NamedTensors inputs, dataset.batch(*session, begin, n));
    for (const auto& [name, tensor] : inputs) {
      digestTensor(digest, name, tensor);
      const Value* input = model.graph->findValue(name);
      if (input != nullptr) observe(*input, tensor);
    }
    auto outputs = session->run(inputs, &observer);
    if (!outputs) return outputs.status().withContext("calibration batch at sample " + std::to_string(begin));
    if (progress) progress(begin + n, total);
  }

  ActivationRanges ranges;
  ranges.method = rangeMethodName(options.method);
  ranges.percentile = options.method == RangeMethod::kPercentile ? options.percentile : 0;
  ranges.samples = total;
  ranges.digest = "fnv1a64:" + digest.hex();
  for (const Entry& e : entries) {
    if (e.histogram.empty()) continue;  // only NaN/Inf: no range to give
    if (e.histogram.nonFinite() > 0)
      spdlog::warn("calibration: value '{}' had {} NaN/Inf elements (ignored)", e.name, e.histogram.nonFinite());
    const Range r = computeRange(e.histogram, options.method, options.percentile);
    ranges.values.push_back({e.name, r.min, r.max, e.histogram.min(), e.histogram.max(), false});
  }
  return ranges;
}

// ---- Ranges file -------------------------------------------------------------------------------

namespace {

constexpr const char* kFormat = "nncompress-ranges/1";

Status checkKeys(const nlohmann::ordered_json& object, const std::set<std::string>& allowed, const std::string& where) {
  for (const auto& item : object.items()) {
    if (allowed.count(item.key())) continue;
    std::string list;
    for (const std::string& k : allowed) list += (list.empty() ? "" : ", ") + k;
    return invalidModel(where + ": unknown key '" + item.key() + "' (keys: " + list + ")");
  }
  return Status::ok();
}

Expected<float> finiteNumber(const nlohmann::ordered_json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) return invalidModel(where + ": missing '" + key + "'");
  if (!it->is_number()) return invalidModel(where + ": '" + key + "' must be a number");
  const double v = it->get<double>();
  if (!std::isfinite(v) || std::fabs(v) > 3.0e38) return invalidModel(where + ": '" + key + "' must be a finite float");
  return static_cast<float>(v);
}

}  // namespace

nlohmann::ordered_json rangesToJson(const ActivationRanges& ranges) {
  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["method"] = ranges.method;
  if (ranges.method == "percentile") j["percentile"] = ranges.percentile;
  j["samples"] = ranges.samples;
  j["calibration_digest"] = ranges.digest;
  j["float_nodes"] = ranges.float_nodes;
  nlohmann::ordered_json values = nlohmann::ordered_json::object();
  for (const ValueRange& v : ranges.values) {
    nlohmann::ordered_json e;
    e["min"] = static_cast<double>(v.min);
    e["max"] = static_cast<double>(v.max);
    e["observed_min"] = static_cast<double>(v.observed_min);
    e["observed_max"] = static_cast<double>(v.observed_max);
    if (v.pinned) e["pinned"] = true;
    values[v.name] = std::move(e);
  }
  j["values"] = std::move(values);
  return j;
}

Expected<ActivationRanges> rangesFromJson(const nlohmann::ordered_json& j) {
  if (!j.is_object()) return invalidModel("ranges file: expected a JSON object");
  NNC_RETURN_IF_ERROR(checkKeys(j, {"format", "method", "percentile", "samples", "calibration_digest", "float_nodes", "values"},
                                "ranges file"));
  if (!j.contains("format") || j["format"] != kFormat)
    return invalidModel(std::string("ranges file: 'format' must be \"") + kFormat + "\"");
  ActivationRanges r;
  if (j.contains("method")) {
    if (!j["method"].is_string()) return invalidModel("ranges file: 'method' must be a string");
    r.method = j["method"].get<std::string>();
  }
  if (j.contains("percentile")) {
    if (!j["percentile"].is_number()) return invalidModel("ranges file: 'percentile' must be a number");
    r.percentile = j["percentile"].get<double>();
  }
  if (j.contains("samples")) {
    if (!j["samples"].is_number_integer()) return invalidModel("ranges file: 'samples' must be an integer");
    r.samples = j["samples"].get<int64_t>();
  }
  if (j.contains("calibration_digest")) {
    if (!j["calibration_digest"].is_string()) return invalidModel("ranges file: 'calibration_digest' must be a string");
    r.digest = j["calibration_digest"].get<std::string>();
  }
  if (j.contains("float_nodes")) {
    if (!j["float_nodes"].is_array()) return invalidModel("ranges file: 'float_nodes' must be an array of strings");
    for (const auto& p : j["float_nodes"]) {
      if (!p.is_string() || p.get<std::string>().empty())
        return invalidModel("ranges file: 'float_nodes' entries must be non-empty strings");
      r.float_nodes.push_back(p.get<std::string>());
    }
  }
  if (!j.contains("values") || !j["values"].is_object()) return invalidModel("ranges file: 'values' must be an object");
  for (const auto& item : j["values"].items()) {
    const std::string where = "ranges file: value '" + item.key() + "'";
    const auto& e = item.value();
    if (!e.is_object()) return invalidModel(where + ": expected an object");
    NNC_RETURN_IF_ERROR(checkKeys(e, {"min", "max", "observed_min", "observed_max", "pinned"}, where));
    ValueRange v;
    v.name = item.key();
    NNC_ASSIGN_OR_RETURN(v.min, finiteNumber(e, "min", where));
    NNC_ASSIGN_OR_RETURN(v.max, finiteNumber(e, "max", where));
    if (v.min > v.max) return invalidModel(where + ": min is greater than max");
    v.observed_min = v.min;
    v.observed_max = v.max;
    if (e.contains("observed_min")) {
      NNC_ASSIGN_OR_RETURN(v.observed_min, finiteNumber(e, "observed_min", where));
    }
    if (e.contains("observed_max")) {
      NNC_ASSIGN_OR_RETURN(v.observed_max, finiteNumber(e, "observed_max", where));
    }
    if (e.contains("pinned")) {
      if (!e["pinned"].is_boolean()) return invalidModel(where + ": 'pinned' must be true or false");
      v.pinned = e["pinned"].get<bool>();
    }
    r.values.push_back(std::move(v));
  }
  return r;
}

Expected<ActivationRanges> readRangesFile(const std::string& path) {
  NNC_RETURN_IF_ERROR(checkReadableFile(path));
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return ioError(path + ": cannot read");
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) return invalidModel(path + ": not valid JSON");
  auto ranges = rangesFromJson(j);
  if (!ranges) return ranges.status().withContext(path);
  return ranges;
}

Status writeRangesFile(const ActivationRanges& ranges, const std::string& path, bool overwrite) {
  const std::string text = rangesToJson(ranges).dump(2) + "\n";
  NNC_ASSIGN_OR_RETURN(auto writer, AtomicFileWriter::create(path, overwrite));
  NNC_RETURN_IF_ERROR(writer->write(text.data(), text.size()));
  return writer->commit();
}

}  // namespace nnc

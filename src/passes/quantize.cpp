// The `quantize` pass: static int8 QDQ quantization with ranges from the context (a ranges
// file) or calibrated on the context's data, recorded in the model's metadata_props.
// Pipeline options: per_channel=true|false, reduce_range=true|false, activations=uint8|int8, format=qdq,
// exclude=PATTERN[+PATTERN...], calib=minmax|percentile|entropy|mse, percentile=P,
// samples=N (0: all), batch_size=N, bias_correction=true|false (needs calibration data; see
// bias_correction.h), ranges=calibrate|given (given: the context's ranges table as it is, even
// when calibration data is present, which then serves bias correction only).
// The `bias-correction` pass is this pass with bias_correction=true (same options).
#include <sstream>

#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"
#include "nncompress/passes/quantize.h"
#include "passes/bias_correction.h"

namespace nnc {
namespace {

// Metadata entries of float rewrites that prepare a model for quantization; the quantize
// record repeats them, so that the quantized model says how it was made in one place.
constexpr const char* kPreparations[] = {"cross_layer_equalization", "smoothquant"};

const std::string* metadataValue(const Model& model, const std::string& key) {
  for (const auto& [k, v] : model.metadata_props)
    if (k == key) return &v;
  return nullptr;
}

class QuantizePass : public Pass {
 public:
  explicit QuantizePass(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }

  static Expected<std::unique_ptr<Pass>> create(const PassSpec& spec, bool bias_correction_default) {
    auto pass = std::make_unique<QuantizePass>(spec.name);
    PassOptions o(spec);
    NNC_ASSIGN_OR_RETURN(pass->bias_correction_, o.flag("bias_correction", bias_correction_default));
    const std::string given = o.text("ranges", "calibrate");
    if (given != "calibrate" && given != "given") return invalidArgument(spec.name + ": ranges=" + given + " must be calibrate or given");
    pass->use_given_ranges_ = given == "given";
    NNC_ASSIGN_OR_RETURN(pass->options_.per_channel, o.flag("per_channel", true));
    NNC_ASSIGN_OR_RETURN(pass->options_.reduce_range, o.flag("reduce_range", true));
    const std::string activations = o.text("activations", "uint8");
    if (activations == "uint8") pass->options_.activation_type = DType::kUInt8;
    else if (activations == "int8") pass->options_.activation_type = DType::kInt8;
    else return invalidArgument("quantize: activations=" + activations + " must be uint8 or int8");
    const std::string format = o.text("format", "qdq");
    if (format != "qdq") return invalidArgument("quantize: format=" + format + " is not supported (formats: qdq)");
    std::stringstream patterns(o.text("exclude", ""));
    for (std::string p; std::getline(patterns, p, '+');)
      if (!p.empty()) pass->options_.exclude.push_back(p);
    NNC_ASSIGN_OR_RETURN(pass->calib_.method, parseRangeMethod(o.text("calib", "minmax")));
    NNC_ASSIGN_OR_RETURN(pass->calib_.percentile, o.number("percentile", 99.99));
    NNC_ASSIGN_OR_RETURN(pass->calib_.max_samples, o.integer("samples", 0));
    NNC_ASSIGN_OR_RETURN(pass->calib_.batch_size, o.integer("batch_size", 32));
    NNC_RETURN_IF_ERROR(o.checkNoUnknownOptions());
    return std::unique_ptr<Pass>(std::move(pass));
  }

  Expected<PassResult> run(Model& model, PassContext& context) override {
    if (bias_correction_ && context.data == nullptr)
      return invalidArgument(name_ + ": bias correction needs calibration data (it compares the float and the quantized model)");
    ActivationRanges ranges;
    if (use_given_ranges_) {
      if (context.ranges == nullptr) return invalidArgument(name_ + ": ranges=given needs a ranges table");
      ranges = *context.ranges;
    } else if (context.data != nullptr) {
      NNC_ASSIGN_OR_RETURN(ranges, calibrate(model, *context.data, calib_, context.threads));
      if (context.ranges != nullptr) ranges.applyOverrides(*context.ranges);
    } else if (context.ranges != nullptr) {
      ranges = *context.ranges;
    } else {
      return invalidArgument("quantize needs calibration data or a ranges file");
    }
    std::optional<Model> float_model;
    if (bias_correction_) {
      NNC_ASSIGN_OR_RETURN(std::string bytes, serializeModel(model));
      NNC_ASSIGN_OR_RETURN(float_model, parseModel(bytes.data(), bytes.size()));
    }
    NNC_ASSIGN_OR_RETURN(PassResult result, quantizeQdq(model, ranges, options_));
    recordInMetadata(model, ranges, options_);
    if (bias_correction_) {
      BiasCorrectionOptions bias = bias_options_;
      bias.samples = calib_.max_samples;
      bias.batch_size = calib_.batch_size;
      bias.threads = context.threads;
      NNC_ASSIGN_OR_RETURN(nlohmann::ordered_json stats, correctBiases(*float_model, model, *context.data, bias));
      result.stats["bias_correction"] = stats;
      result.summary += ", bias correction on " + stats["layers"].dump() + " layers";
      auto record = nlohmann::ordered_json::parse(*metadataValue(model, "nncompress.quantize"));
      record["bias_correction"] = stats;
      model.setMetadata("nncompress.quantize", record.dump());
    }
    nlohmann::ordered_json calibration;
    calibration["method"] = ranges.method;
    calibration["samples"] = ranges.samples;
    calibration["digest"] = ranges.digest;
    result.stats["calibration"] = calibration;
    return result;
  }

 private:
  std::string name_;
  QuantizeOptions options_;
  CalibrationOptions calib_;
  bool bias_correction_ = false;
  bool use_given_ranges_ = false;  // context.ranges as they are, even with data (then only for bias correction)
  BiasCorrectionOptions bias_options_;
};

}  // namespace

// What was done, so that a quantized model says how it was made (deterministic: no paths,
// no times).
void recordInMetadata(Model& model, const ActivationRanges& ranges, const QuantizeOptions& options) {
  nlohmann::ordered_json j;
  j["format"] = "qdq";
  j["weights"] = std::string("int8 symmetric ") + (options.per_channel ? "per-channel" : "per-tensor") +
                 (options.reduce_range ? " [-63,63]" : " [-127,127]");
  j["bias"] = "int32, scale s_x*s_w";
  j["activations"] = options.activation_type == DType::kInt8 ? "int8" : "uint8";
  j["calib"] = ranges.method;
  if (ranges.method == "percentile") j["percentile"] = ranges.percentile;
  j["calib_samples"] = ranges.samples;
  j["exclude"] = options.exclude;
  j["float_nodes"] = ranges.float_nodes;
  for (const char* preparation : kPreparations)
    if (const std::string* record = metadataValue(model, std::string("nncompress.") + preparation))
      j[preparation] = nlohmann::ordered_json::parse(*record, nullptr, false);
  model.setMetadata("nncompress.version", NNC_VERSION);
  model.setMetadata("nncompress.quantize", j.dump());
  model.setMetadata("nncompress.calibration_digest", ranges.digest);
}

Expected<std::unique_ptr<Pass>> createQuantizePass(const PassSpec& spec) { return QuantizePass::create(spec, false); }
Expected<std::unique_ptr<Pass>> createBiasCorrectionPass(const PassSpec& spec) { return QuantizePass::create(spec, true); }

}  // namespace nnc

// The `quantize` pass: static int8 QDQ quantization with ranges from the context (a ranges
// file) or calibrated on the context's data, recorded in the model's metadata_props.
// Pipeline options: per_channel=true|false, reduce_range=true|false, activations=uint8|int8, format=qdq,
// exclude=PATTERN[+PATTERN...], calib=minmax|percentile|entropy|mse, percentile=P,
// samples=N (0: all), batch_size=N.
#include <sstream>

#include "nncompress/passes/quantize.h"

namespace nnc {
namespace {

class QuantizePass : public Pass {
 public:
  std::string name() const override { return "quantize"; }

  static Expected<std::unique_ptr<Pass>> create(const PassSpec& spec) {
    auto pass = std::make_unique<QuantizePass>();
    PassOptions o(spec);
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
    ActivationRanges ranges;
    if (context.data != nullptr) {
      NNC_ASSIGN_OR_RETURN(ranges, calibrate(model, *context.data, calib_, context.threads));
      if (context.ranges != nullptr) ranges.applyOverrides(*context.ranges);
    } else if (context.ranges != nullptr) {
      ranges = *context.ranges;
    } else {
      return invalidArgument("quantize needs calibration data or a ranges file");
    }
    NNC_ASSIGN_OR_RETURN(PassResult result, quantizeQdq(model, ranges, options_));
    recordInMetadata(model, ranges, options_);
    nlohmann::ordered_json calibration;
    calibration["method"] = ranges.method;
    calibration["samples"] = ranges.samples;
    calibration["digest"] = ranges.digest;
    result.stats["calibration"] = calibration;
    return result;
  }

 private:
  QuantizeOptions options_;
  CalibrationOptions calib_;
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
  model.setMetadata("nncompress.version", NNC_VERSION);
  model.setMetadata("nncompress.quantize", j.dump());
  model.setMetadata("nncompress.calibration_digest", ranges.digest);
}

Expected<std::unique_ptr<Pass>> createQuantizePass(const PassSpec& spec) { return QuantizePass::create(spec); }

}  // namespace nnc

// `nncompress run MODEL --input NAME=FILE ... -o DIR`: one inference, outputs saved as .npy.
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "cli.h"
#include "cli_data.h"
#include "nncompress/analysis/metrics.h"
#include "nncompress/data/npy.h"
#include "nncompress/data/random_inputs.h"
#include "nncompress/onnx/import.h"

namespace nnc::cli {
namespace {

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;  // NAME=FILE or NAME=random
  bool random = false;
  GeneratedInputOptions generated;
  int64_t batch = 1;
};

// A file name made from an output name: characters outside [A-Za-z0-9._-] become '_'.
std::string fileNameFor(const std::string& name) {
  std::string out;
  for (char c : name) out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ? c : '_');
  return out.empty() ? "output" : out;
}

Expected<Tensor> readInputFile(const std::string& path) {
  if (path.size() > 4 && path.substr(path.size() - 4) == ".npy") return readNpy(path);
  return invalidArgument("input file '" + path + "': use .npy (or 'random')");
}

}  // namespace

Command addRunCommand(CLI::App& root, GlobalOptions& global) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* app = root.add_subcommand("run", "Run a model once and save its outputs as .npy files");
  app->add_option("model", options->model, "The .onnx model")->required();
  app->add_option("--input", options->inputs, "NAME=FILE.npy or NAME=random (repeatable)");
  app->add_flag("--random", options->random, "Feed seeded random data (--seed) to every input not given");
  addGeneratedInputOptions(app, options->generated);
  app->add_option("--batch", options->batch, "First (batch) dim of random inputs when it is symbolic")->check(CLI::PositiveNumber);
  app->add_option("-o,--output", global.output, "Folder for the outputs (created if missing)")->required();
  return {app, [options, &global]() -> int {
            auto model = loadModel(options->model);
            if (!model) return reportError(model.status());
            auto session = Session::create(*model, {global.threads, nullptr});
            if (!session) return reportError(session.status().withContext(options->model));
            RandomInputOptions random;
            random.batch = options->batch;
            random.seed = global.seed;
            Status generated = applyGeneratedInputOptions(options->generated, random);
            if (!generated.isOk()) return reportError(generated);
            NamedTensors feed;
            for (const std::string& spec : options->inputs) {
              size_t eq = spec.find('=');
              if (eq == std::string::npos) return reportError(invalidArgument("--input: '" + spec + "' is not NAME=FILE"));
              std::string name = spec.substr(0, eq), file = spec.substr(eq + 1);
              const Value* input = nullptr;
              for (const Value* v : (*session)->inputs())
                if (v->name() == name) input = v;
              if (input == nullptr) return reportError(invalidArgument("--input: the model has no input '" + name + "'"));
              Expected<Tensor> t = Tensor();
              if (file == "random") {
                auto shape = concreteShape(*input, random);
                if (!shape) return reportError(shape.status());
                t = randomTensor(static_cast<DType>(input->type.elem_type), *shape, global.seed + feed.size());
              } else {
                t = readInputFile(file);
              }
              if (!t) return reportError(t.status().withContext("--input " + name));
              feed.emplace_back(name, std::move(t).value());
            }
            if (options->random) {
              auto all = randomInputs(**session, random);
              if (!all) return reportError(all.status());
              for (auto& [name, tensor] : *all) {
                bool given = false;
                for (const auto& [n, t] : feed) given |= n == name;
                if (!given) feed.emplace_back(name, std::move(tensor));
              }
            }
            auto outputs = (*session)->run(feed);
            if (!outputs) return reportError(outputs.status().withContext(options->model));
            std::error_code ec;
            std::filesystem::create_directories(global.output, ec);
            if (ec) return reportError(ioError("cannot create output folder '" + global.output + "': " + ec.message()));
            nlohmann::ordered_json j = nlohmann::ordered_json::array();
            for (size_t i = 0; i < outputs->size(); ++i) {
              const Value* out = (*session)->outputs()[i];
              const Tensor& t = (*outputs)[i];
              std::string path = global.output + "/" + fileNameFor(out->name()) + ".npy";
              Status s = writeNpy(path, t, global.force);
              if (!s.isOk()) return reportError(s);
              double lo = 0, hi = 0, sum = 0;
              const int64_t n = t.dtype == DType::kString ? 0 : t.elementCount();
              for (int64_t k = 0; k < n; ++k) {
                double v = elementAsDouble(t, k);
                lo = k ? std::min(lo, v) : v;
                hi = k ? std::max(hi, v) : v;
                sum += v;
              }
              std::string shape;
              for (int64_t d : t.shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
              if (global.json) {
                j.push_back({{"name", out->name()}, {"file", path}, {"dtype", dtypeName(t.dtype)}, {"shape", t.shape},
                             {"min", lo}, {"max", hi}, {"mean", n ? sum / static_cast<double>(n) : 0.0}});
              } else if (!global.quiet) {
                std::printf("%s %s[%s] -> %s (min %.6g, max %.6g, mean %.6g)\n", out->name().c_str(), dtypeName(t.dtype).c_str(),
                            shape.c_str(), path.c_str(), lo, hi, n ? sum / static_cast<double>(n) : 0.0);
              }
            }
            if (global.json) printJson(j);
            return kExitOk;
          }};
}

}  // namespace nnc::cli

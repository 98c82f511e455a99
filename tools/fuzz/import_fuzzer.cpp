// libFuzzer target: arbitrary bytes through the ONNX importer and, when they import, through
// export and summary. Any crash, hang, leak or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "nncompress/analysis/model_summary.h"
#include "nncompress/onnx/export.h"
#include "nncompress/onnx/import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = nnc::parseModel(data, size);
  if (!model) return 0;
  (void)nnc::summarizeModel(*model);
  auto bytes = nnc::serializeModel(*model);
  if (bytes) {
    auto again = nnc::parseModel(bytes->data(), bytes->size());
    // What we write must import again.
    if (!again) __builtin_trap();
  }
  return 0;
}

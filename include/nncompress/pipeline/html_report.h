// The pipeline report as one self-contained HTML page (inline CSS and SVG; no scripts, no
// network): the before/after table, size / accuracy / latency per stage, accuracy versus size
// across stages, and per-layer parameters and sparsity of the original and final models.
#pragma once

#include <string>

#include "nncompress/pipeline/pipeline_runner.h"

namespace nnc {

std::string renderHtmlReport(const PipelineReport& report);

}  // namespace nnc

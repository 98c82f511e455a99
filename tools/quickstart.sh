#!/usr/bin/env bash
# The quick start: installs what's needed, builds nncompress, and runs it on a bundled model.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
build/tools/nncompress/nncompress inspect models/resnet_small.onnx

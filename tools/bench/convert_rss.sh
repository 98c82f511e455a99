#!/usr/bin/env bash
# Peak memory of `nncompress convert` on a generated model of SIZE_MB (default 1100 MB):
# inline -> inline, inline -> external, external -> inline, external -> external.
# Prints peak RSS (from /usr/bin/time -v) divided by the model's size; the goal is <= 1.3.
#   tools/bench/convert_rss.sh [SIZE_MB] [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mb=${1:-1100}
work=${2:-$(mktemp -d /tmp/nnc-rss.XXXXXX)}
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target nncompress make_large_model >/dev/null
bin=build/tools/nncompress/nncompress
build/tools/bench/make_large_model "$work/inline.onnx" "$size_mb" 16 >/dev/null
build/tools/bench/make_large_model "$work/ext.onnx" "$size_mb" 16 --external-data >/dev/null
model_bytes=$(stat -c %s "$work/inline.onnx")

measure() {  # name, then the convert arguments
  local name=$1; shift
  /usr/bin/time -v "$bin" -q --force convert "$@" 2> "$work/time.txt"
  local kb
  kb=$(grep "Maximum resident set size" "$work/time.txt" | awk '{print $NF}')
  awk -v n="$name" -v kb="$kb" -v b="$model_bytes" \
    'BEGIN { printf "%-22s peak RSS %7.0f MB  model %7.0f MB  ratio %.3f\n", n, kb/1024, b/1048576, kb*1024/b }'
}
measure "inline -> inline" "$work/inline.onnx" -o "$work/out1.onnx"
measure "inline -> external" "$work/inline.onnx" -o "$work/out2.onnx" --external-data
measure "external -> inline" "$work/ext.onnx" -o "$work/out3.onnx"
measure "external -> external" "$work/ext.onnx" -o "$work/out4.onnx" --external-data
cmp "$work/out1.onnx" "$work/out3.onnx" && echo "inline outputs identical"
rm -rf "$work"

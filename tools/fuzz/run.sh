#!/usr/bin/env bash
# Builds the importer fuzzer with clang (libFuzzer + ASan + UBSan) and runs it.
#   tools/fuzz/run.sh [SECONDS]   default 600; corpus seeded from libonnx-testdata and models/
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
tools/bootstrap.sh --test
command -v clang++ >/dev/null || { echo "fuzz: installing clang"; apt-get install -y -qq clang libclang-rt-14-dev >/dev/null; }
build=build-fuzz
CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNC_SANITIZE=ON \
  -DNNC_BUILD_FUZZERS=ON -DNNC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target import_fuzzer
corpus="$build/corpus"
if [[ ! -d "$corpus" ]]; then
  mkdir -p "$corpus"
  # Small seeds only: libFuzzer mutates better from small inputs.
  find /usr/share/libonnx-testdata/data models -name '*.onnx' -size -64k 2>/dev/null |
    while read -r f; do cp "$f" "$corpus/$(echo "$f" | md5sum | cut -c1-16).onnx"; done
fi
mkdir -p "$build/artifacts"
"$build/tools/fuzz/import_fuzzer" "$corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
  -rss_limit_mb=4096 -artifact_prefix="$build/artifacts/" -print_final_stats=1

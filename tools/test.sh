#!/usr/bin/env bash
# Installs the test dependencies, builds nncompress and runs the whole test suite.
#   tools/test.sh             release build in build/, then ctest
#   tools/test.sh --sanitize  ASan+UBSan build in build-asan/, then ctest
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_flags=(-DCMAKE_BUILD_TYPE=Release)
if [[ "${1:-}" == "--sanitize" ]]; then
  build_dir=build-asan
  cmake_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNC_SANITIZE=ON)
fi

tools/bootstrap.sh --test
jobs=$(nproc)
cmake -S . -B "$build_dir" "${cmake_flags[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs"
cd "$build_dir"
ctest -j "$jobs" --output-on-failure

#!/usr/bin/env bash
# The quick start: installs what's needed, builds nncompress, and compresses a bundled model:
# the residual CNN is quantized to int8 with the bundled calibration split, then the float and
# int8 models are evaluated on the 2,000-sample test split and compared side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"

nnc=build/tools/nncompress/nncompress
out=build/quickstart
mkdir -p "$out"
data="--data models/data/fashion_mnist_test_2000_x.npy --labels models/data/fashion_mnist_test_2000_y.npy --scale 1/255"
echo "== quantize models/resnet_small.onnx to int8 (QDQ) =="
$nnc quantize models/resnet_small.onnx -o "$out/resnet_small.int8.onnx" --force \
  --calib-data models/data/fashion_mnist_calib_500_x.npy --scale 1/255
echo "== accuracy on the test split: float32, then int8 =="
$nnc -q eval models/resnet_small.onnx $data
$nnc -q eval "$out/resnet_small.int8.onnx" $data
echo "== the int8 model =="
$nnc inspect "$out/resnet_small.int8.onnx" --max-layers 5

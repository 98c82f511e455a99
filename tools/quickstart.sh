#!/usr/bin/env bash
# The quick start: installs what's needed, builds nncompress, and runs the main job on the bundled
# MLP (Fashion-MNIST): prune half of its hidden neurons, fine-tune on the training split, quantize
# to int8; every stage is saved, checked, evaluated on the 2,000-sample test split and measured,
# and the before/after table is printed (and drawn in build/quickstart/mlp.compressed.report.html).
# The quality gate fails the run (exit 7) if the result
# is not at least 8x smaller with at most 1 point of accuracy lost.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"

nnc=build/tools/nncompress/nncompress
out=build/quickstart
mkdir -p "$out"
train=/usr/share/datasets/fashion-mnist
echo "== prune -> fine-tune -> int8 on models/mlp.onnx =="
$nnc pipeline models/mlp.onnx -o "$out/mlp.compressed.onnx" --force \
  --passes 'prune-channels{granularity=neuron,sparsity=0.5},finetune{epochs=4,limit=30000},quantize' \
  --data models/data/fashion_mnist_test_2000_x.npy --labels models/data/fashion_mnist_test_2000_y.npy --scale 1/255 \
  --calib-data models/data/fashion_mnist_calib_500_x.npy \
  --train-data "$train/train-images-idx3-ubyte.gz" --train-labels "$train/train-labels-idx1-ubyte.gz" \
  --fail-if 'accuracy_drop > 1.0 or size_ratio > 0.125'
echo "== the compressed model =="
$nnc inspect "$out/mlp.compressed.onnx" --max-layers 5

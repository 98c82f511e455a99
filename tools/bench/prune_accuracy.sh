#!/usr/bin/env bash
# One-shot accuracy vs sparsity of `nncompress prune` (unstructured) on the bundled models:
# top-1 on the 2000-sample Fashion-MNIST test split with `nncompress eval`, for magnitude pruning
# (layer and global scope, first/last kept and pruned), Wanda (500 calibration images from the
# training set) and 2:4. Prints a Markdown table (the one in docs/pruning.md).
#
# usage: prune_accuracy.sh [--sparsities "0.5 0.7 0.8 0.9"] [MODEL ...]   (default: mlp cnn_bn resnet_small mobilenet_small tiny_transformer)
# env: NNCOMPRESS (default build/tools/nncompress/nncompress), NNC_WORK (default a temporary folder),
#      VARIANTS (only the variants whose name starts with one of these ;-separated names)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NNCOMPRESS="${NNCOMPRESS:-$ROOT/build/tools/nncompress/nncompress}"
DATA="$ROOT/models/data"
sparsities="0.5 0.7 0.8 0.9"
models=()
while (($#)); do
  case "$1" in
    --sparsities) sparsities="${2:?}"; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) models+=("$1") ;;
  esac
  shift
done
((${#models[@]})) || models=(mlp cnn_bn resnet_small mobilenet_small tiny_transformer)
WORK="${NNC_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/nnc-prune-acc.XXXXXX")}"
mkdir -p "$WORK"

top1() {  # MODEL -> top-1 in percent
  "$NNCOMPRESS" -q eval "$1" --data "$DATA/fashion_mnist_test_2000_x.npy" --labels "$DATA/fashion_mnist_test_2000_y.npy" \
    --scale 1/255 --batch-size 100 --json | sed -n 's/.*"top1": \([0-9.]*\).*/\1/p' | awk '{printf "%.2f", 100 * $1}'
}
calib=(--data "$DATA/fashion_mnist_calib_500_x.npy" --scale 1/255)
# name|prune options (SPARSITY is replaced); 2:4 ignores the sparsity column
variants=(
  "magnitude, layer|--sparsity SPARSITY"
  "magnitude, layer, all layers|--sparsity SPARSITY --prune-first-last"
  "magnitude, global, all layers|--sparsity SPARSITY --scope global --prune-first-last"
  "wanda, layer|--sparsity SPARSITY --importance wanda CALIB"
  "wanda, layer, all layers|--sparsity SPARSITY --importance wanda --prune-first-last CALIB"
  "wanda, output|--sparsity SPARSITY --importance wanda --scope output CALIB"
  "wanda, output, all layers|--sparsity SPARSITY --importance wanda --scope output --prune-first-last CALIB"
)
# VARIANTS="wanda, output|" keeps only the variants whose "name|options" starts with one of the ;-separated texts
if [[ -n "${VARIANTS:-}" ]]; then
  IFS=';' read -r -a wanted <<<"$VARIANTS"
  kept=()
  for v in "${variants[@]}"; do for w in "${wanted[@]}"; do [[ "$v" == "$w"* ]] && { kept+=("$v"); break; }; done; done
  variants=("${kept[@]}")
fi
echo "| model | variant | dense | $(for s in $sparsities; do printf '%s | ' "$s"; done)2:4 |"
echo "|---|---|---|$(for s in $sparsities; do printf -- '---|'; done)---|"
for m in "${models[@]}"; do
  src="$ROOT/models/$m.onnx"
  dense="$(top1 "$src")"
  for v in "${variants[@]}"; do
    name="${v%%|*}" opts="${v#*|}"
    row="| $m | $name | $dense |"
    for s in $sparsities; do
      out="$WORK/$m.onnx"
      o="${opts//SPARSITY/$s}"
      read -r -a args <<<"${o//CALIB/}"
      [[ "$opts" == *CALIB* ]] && args+=("${calib[@]}")
      "$NNCOMPRESS" -q prune "$src" -o "$out" --force "${args[@]}"
      row+=" $(top1 "$out") |"
    done
    # 2:4 with the same importance and first/last setting
    args=(--granularity n:m)
    [[ "$opts" == *wanda* ]] && args+=(--importance wanda "${calib[@]}")
    [[ "$opts" == *prune-first-last* ]] && args+=(--prune-first-last)
    if [[ "$opts" == *global* || "$opts" == *output* ]]; then row+=" – |"; else
      "$NNCOMPRESS" -q prune "$src" -o "$WORK/$m.onnx" --force "${args[@]}"
      row+=" $(top1 "$WORK/$m.onnx") |"
    fi
    echo "$row"
  done
done
[[ -n "${NNC_WORK:-}" ]] || rm -rf "$WORK"

#!/usr/bin/env bash
# Latency of QDQ int8 models written by `nncompress quantize` vs their float32 originals, in
# nncompress's runtime (fused integer kernels, src/runtime/qdq_fusion.h) and in ONNX Runtime
# (tools/ort/ort_bench.js: graph optimizations on, so its QDQ -> QLinear*/QGemm fusions), with
# the top-1 accuracy of both models on the Fashion-MNIST test split (2,000 samples).
# Per model:
#   1. nncompress canonicalize MODEL -> MODEL.float.onnx (BatchNormalization folded: the float
#      baseline as fast as our runtime makes it; ORT folds it itself);
#   2. nncompress quantize MODEL --calib-data calib_500 --scale 1/255 -> MODEL.int8.onnx (defaults:
#      QDQ, per-channel 7-bit weights, uint8 activations, minmax);
#   3. for each batch: `nncompress --threads T bench` and `ort_bench.js --threads T`, float and
#      int8, alternating, best p50 of --reps;
#   4. nncompress eval of both models.
# Prints one row per model and batch: p50s (ms), ratios int8/float (< 1: int8 faster) per runtime.
#
# usage: qdq_speed.sh [--reps N] [--threads T] [--batches 1,32] [--no-ort] [MODEL ...]
#   MODEL  bundled model names (default: cnn_bn resnet_small mobilenet_small mlp tiny_transformer)
# env: NNCOMPRESS (default build/tools/nncompress/nncompress), NNC_BENCH_LOG (work folder, default
#      temporary). ORT needs tools/ort/install.sh; without it (or with --no-ort) its columns are "-".
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NNCOMPRESS="${NNCOMPRESS:-$ROOT/build/tools/nncompress/nncompress}"
DATA="$ROOT/models/data"
ORT_BENCH="$ROOT/tools/ort/ort_bench.js"
die() { echo "qdq_speed.sh: error: $*" >&2; exit 2; }

reps=3 threads=1 batch_list=1,32 use_ort=1 models=()
while (($#)); do
  case "$1" in
    --reps) reps="${2:?}"; shift ;;
    --threads) threads="${2:?}"; shift ;;
    --batches) batch_list="${2:?}"; shift ;;
    --no-ort) use_ort=0 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) models+=("$1") ;;
  esac
  shift
done
((${#models[@]})) || models=(cnn_bn resnet_small mobilenet_small mlp tiny_transformer)
[[ -x "$NNCOMPRESS" ]] || die "nncompress not found: $NNCOMPRESS"
if ((use_ort)) && ! { command -v node >/dev/null && [[ -d "$ROOT/tools/ort/node_modules/onnxruntime-node" ]]; }; then
  echo "qdq_speed.sh: onnxruntime-node missing (tools/ort/install.sh): no ORT columns" >&2
  use_ort=0
fi
W="${NNC_BENCH_LOG:-$(mktemp -d "${TMPDIR:-/tmp}/nnc-qdq-speed.XXXXXX")}"
mkdir -p "$W"

p50() { node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(j.results[0].p50_ms)'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a ? b : a) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
top1() {
  "$NNCOMPRESS" -q eval "$1" --data "$DATA/fashion_mnist_test_2000_x.npy" --labels "$DATA/fashion_mnist_test_2000_y.npy" \
    --scale 1/255 --batch-size 100 --json | node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log((100 * j.top1).toFixed(2))'
}

echo "qdq_speed: float32 vs int8 (nncompress quantize), $threads thread(s), best p50 of $reps; work $W"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) CPUs at $(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%-17s %5s %9s %9s %6s %9s %9s %6s %8s %8s\n' model batch nnc_f32 nnc_int8 ratio ort_f32 ort_int8 ratio top1_f32 top1_i8
for name in "${models[@]}"; do
  model="$ROOT/models/$name.onnx"
  [[ -f "$model" ]] || die "no model $model"
  "$NNCOMPRESS" -q canonicalize "$model" -o "$W/$name.float.onnx" --force
  "$NNCOMPRESS" -q quantize "$model" -o "$W/$name.int8.onnx" --calib-data "$DATA/fashion_mnist_calib_500_x.npy" \
    --scale 1/255 --force
  acc_f=$(top1 "$W/$name.float.onnx") acc_q=$(top1 "$W/$name.int8.onnx")
  for b in ${batch_list//,/ }; do
    nf="" nq="" of="" oq=""
    for ((r = 1; r <= reps; r++)); do
      nf=$(min "$nf" "$("$NNCOMPRESS" --threads "$threads" bench "$W/$name.float.onnx" --batch-sizes "$b" --json | p50)")
      nq=$(min "$nq" "$("$NNCOMPRESS" --threads "$threads" bench "$W/$name.int8.onnx" --batch-sizes "$b" --json | p50)")
      if ((use_ort)); then
        of=$(min "$of" "$(node "$ORT_BENCH" "$W/$name.float.onnx" --threads "$threads" --batch-sizes "$b" --json | p50)")
        oq=$(min "$oq" "$(node "$ORT_BENCH" "$W/$name.int8.onnx" --threads "$threads" --batch-sizes "$b" --json | p50)")
      fi
    done
    if ((use_ort)); then
      printf '%-17s %5s %9.3f %9.3f %6s %9.3f %9.3f %6s %8s %8s\n' "$name" "$b" "$nf" "$nq" "$(ratio "$nq" "$nf")" \
        "$of" "$oq" "$(ratio "$oq" "$of")" "$acc_f" "$acc_q"
    else
      printf '%-17s %5s %9.3f %9.3f %6s %9s %9s %6s %8s %8s\n' "$name" "$b" "$nf" "$nq" "$(ratio "$nq" "$nf")" - - - \
        "$acc_f" "$acc_q"
    fi
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) at the end ($(date -u '+%H:%M UTC'))"

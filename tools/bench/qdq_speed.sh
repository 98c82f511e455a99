#!/usr/bin/env bash
# Latency of a QDQ int8 model vs its float32 original in nncompress's runtime (fused int8 kernels,
# src/runtime/qdq_fusion.h), and top-1 accuracy of both on the Fashion-MNIST test split.
#   1. nncompress canonicalize MODEL            (BatchNormalization folded into Conv)
#   2. make_qdq_model.py probe / nncompress run (min/max of every Conv input and output on N
#      calibration samples) / make_qdq_model.py build  -> MODEL.qdq.onnx
#   3. nncompress --threads T bench (float and QDQ; best p50 of --reps), nncompress eval (both)
# Prints one row per threads/batch with both p50s and the ratio int8/float (< 1: int8 faster).
#
# usage: qdq_speed.sh [--reps N] [--threads 1,2] [--batches 1,32] [--samples N] [MODEL]
#   MODEL  a bundled Fashion-MNIST CNN (default models/resnet_small.onnx)
# env: NNCOMPRESS (default build/tools/nncompress/nncompress), PYTHON (default /usr/bin/python3,
#      which has Debian's python3-onnx and numpy), NNC_BENCH_LOG (work folder, default temporary)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NNCOMPRESS="${NNCOMPRESS:-$ROOT/build/tools/nncompress/nncompress}"
PYTHON="${PYTHON:-/usr/bin/python3}"
DATA="$ROOT/models/data"
die() { echo "qdq_speed.sh: error: $*" >&2; exit 2; }

reps=3 threads_list=1,2 batch_list=1,32 samples=100 model="$ROOT/models/resnet_small.onnx"
while (($#)); do
  case "$1" in
    --reps) reps="${2:?}"; shift ;;
    --threads) threads_list="${2:?}"; shift ;;
    --batches) batch_list="${2:?}"; shift ;;
    --samples) samples="${2:?}"; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) model="$1" ;;
  esac
  shift
done
[[ -x "$NNCOMPRESS" ]] || die "nncompress not found: $NNCOMPRESS"
[[ -f "$model" ]] || die "no model $model"
W="${NNC_BENCH_LOG:-$(mktemp -d "${TMPDIR:-/tmp}/nnc-qdq-speed.XXXXXX")}"
mkdir -p "$W"
name="$(basename "${model%.onnx}")"

"$NNCOMPRESS" -q canonicalize "$model" -o "$W/$name.float.onnx" --force
"$PYTHON" "$HERE/make_qdq_model.py" probe "$W/$name.float.onnx" "$W/$name.probe.onnx" \
  "$DATA/fashion_mnist_calib_500_x.npy" "$W/calib_x.npy" --samples "$samples"
"$NNCOMPRESS" -q run "$W/$name.probe.onnx" --input input="$W/calib_x.npy" -o "$W/probe_out" --force
"$PYTHON" "$HERE/make_qdq_model.py" build "$W/$name.float.onnx" "$W/probe_out" "$W/$name.qdq.onnx"

p50() { node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(j.results[0].p50_ms)'; }
top1() { "$NNCOMPRESS" -q eval "$1" --data "$DATA/fashion_mnist_test_2000_x.npy" --labels "$DATA/fashion_mnist_test_2000_y.npy" \
  --scale 1/255 --batch-size 100 --json | node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(j.top1_correct)'; }

echo "qdq_speed: $name float32 vs QDQ int8 in $NNCOMPRESS, best p50 of $reps; work $W"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) CPUs at $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "top-1 correct of 2000: float $(top1 "$W/$name.float.onnx"), int8 $(top1 "$W/$name.qdq.onnx")"
printf '%3s %5s %14s %14s %8s\n' thr batch float_p50_ms int8_p50_ms ratio
for t in ${threads_list//,/ }; do
  for b in ${batch_list//,/ }; do
    best_f="" best_q=""
    for ((r = 1; r <= reps; r++)); do
      f=$("$NNCOMPRESS" --threads "$t" bench "$W/$name.float.onnx" --batch-sizes "$b" --json | p50)
      q=$("$NNCOMPRESS" --threads "$t" bench "$W/$name.qdq.onnx" --batch-sizes "$b" --json | p50)
      best_f=$(awk -v a="${best_f:-$f}" -v b="$f" 'BEGIN { print (a < b ? a : b) }')
      best_q=$(awk -v a="${best_q:-$q}" -v b="$q" 'BEGIN { print (a < b ? a : b) }')
    done
    printf '%3s %5s %14.3f %14.3f %8.3f\n' "$t" "$b" "$best_f" "$best_q" "$(awk -v a="$best_q" -v b="$best_f" 'BEGIN { print a / b }')"
  done
done

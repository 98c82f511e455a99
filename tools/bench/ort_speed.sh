#!/usr/bin/env bash
# Latency of nncompress's runtime vs ONNX Runtime on the bundled and the real models.
#   nncompress --threads T bench MODEL --batch-sizes B --json [--dim ...]
#   node tools/ort/ort_bench.js MODEL --threads T --batch-sizes B --json [--dim ...]
# (same warmup/runs/min-seconds, same seeded random inputs, same shapes; ORT: intra-op threads T,
# inter-op 1, sequential, all graph optimizations). Each case runs --reps times (default 3),
# alternating the two runtimes, and the best (lowest) p50 of each runtime is kept: the machine
# is shared, and the minimum is the estimate least disturbed by other load.
# Prints one row per model/threads/batch with both p50s and the ratio nncompress/ORT
# (> 1: nncompress is slower), then the geometric mean of the ratios (all, and per thread count).
#
# usage: ort_speed.sh [--reps N] [--threads 1,2] [--no-real] [--quick] [MODEL ...]
#   MODEL: bundled (cnn_bn ...) or real (silero_vad_v5 ...) model names; default: all
#   --quick  warmup 1, runs 5, min-seconds 0.2 (a smoke run, not for the results table)
# env: NNCOMPRESS, NNC_MODELS_DIR, NNC_CACHE as in tools/ort/crosscheck.sh;
#      NNC_BENCH_LOG (folder for the raw JSON of every run, default a temporary folder)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ORT="$ROOT/tools/ort"
NNCOMPRESS="${NNCOMPRESS:-$ROOT/build/tools/nncompress/nncompress}"
MODELS_DIR="${NNC_MODELS_DIR:-$ROOT/models}"
CACHE="${NNC_CACHE:-$HOME/.cache/nncompress}/realmodels"
BUNDLED=(cnn_bn resnet_small mobilenet_small mlp tiny_transformer)
# isnet_* are not in the default list: a run takes 10-60 s in nncompress (name them to include them;
# ort_memory.sh reports their p50 too).
REAL=(silero_vad_legacy silero_vad_v5 silero_vad_v6 ppocr_mobile_v2_cls ppocr_v4_rec ppocr_v4_det)

die() { echo "ort_speed.sh: error: $*" >&2; exit 2; }

reps=3 threads_list=1,2 real=1 quick=0 models=()
while (($#)); do
  case "$1" in
    --reps) reps="${2:?}"; shift ;;
    --threads) threads_list="${2:?}"; shift ;;
    --no-real) real=0 ;;
    --quick) quick=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) models+=("${1%.onnx}") ;;
  esac
  shift
done
[[ -x "$NNCOMPRESS" ]] || die "nncompress not found: $NNCOMPRESS"
[[ -d "$ORT/node_modules/onnxruntime-node" ]] || die "onnxruntime-node not installed: run tools/ort/install.sh"
if ((${#models[@]} == 0)); then
  models=("${BUNDLED[@]}")
  ((real)) && [[ -d "$CACHE/models" ]] && models+=("${REAL[@]}")
fi
LOG="${NNC_BENCH_LOG:-$(mktemp -d "${TMPDIR:-/tmp}/nnc-ort-speed.XXXXXX")}"
mkdir -p "$LOG"
timing=()
((quick)) && timing=(--warmup 1 --runs 5 --min-seconds 0.2)

# Per model: the file to run, its batch sizes, and its bench args for batch $1 (both runtimes
# apply the same shape rules: fixed dims kept, named dims from --dim, else batch for dim 0, 1).
model_file() {
  case "$1" in
    silero_vad_v5|silero_vad_v6)
      # Unnamed dims cannot be set with --dim: a copy with the dims named (batch, samples).
      local f="$LOG/$1.named.onnx"
      [[ -f "$f" ]] || node "$ORT/set_input_shape.js" "$CACHE/models/$1.onnx" "$f" \
        --shape input=batch,samples --shape state=2,batch,128 >&2
      echo "$f" ;;
    *) if [[ -f "$MODELS_DIR/$1.onnx" ]]; then echo "$MODELS_DIR/$1.onnx"; else echo "$CACHE/models/$1.onnx"; fi ;;
  esac
}
batches() {
  case "$1" in
    ppocr_v4_det) echo 1 ;;          # 32 x 3 x 320 x 320 takes seconds per run: batch 1 only
    isnet_*) echo 1 ;;               # static [1,3,1024,1024]
    *) echo "1 32" ;;
  esac
}
bench_args() {  # MODEL BATCH
  case "$1" in
    # sr is random (0..7), as nncompress bench makes it: the 8 kHz branch, 256-sample chunks
    silero_vad_legacy) echo "--dim batch=$2 --dim sequence=256" ;;
    silero_vad_v5|silero_vad_v6) echo "--dim batch=$2 --dim samples=256" ;;
    # heavy cases (a run takes ~0.5-2 s): 1 warmup, 5 timed runs, to keep the whole script < 30 min
    ppocr_v4_det) echo "--dim p2o.DynamicDimension.1=320 --dim p2o.DynamicDimension.2=320 --warmup 1 --runs 5 --min-seconds 0" ;;
    ppocr_v4_rec) echo "--dim p2o.DynamicDimension.1=320 $( (($2 > 1)) && echo --warmup 1 --runs 5 --min-seconds 0)" ;;
    ppocr_mobile_v2_cls) echo "--dim p2o.DynamicDimension.1=48 --dim p2o.DynamicDimension.2=192" ;;
    isnet_*) echo "--warmup 1 --runs 3 --min-seconds 0" ;;   # ~10-60 s per run in nncompress
  esac
}

p50_of() { node -e 'try { const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(j.results[0].p50_ms) } catch { console.log("-") }' "$1"; }
errline() { grep -m1 -i 'error' "$1" | cut -c1-160 || true; }

echo "ort_speed: $NNCOMPRESS vs ONNX Runtime $(node -p 'require(process.argv[1]).version' "$ORT/node_modules/onnxruntime-node/package.json"), best p50 of $reps runs per case; raw JSON in $LOG"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) CPUs at $(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%-22s %3s %5s %12s %12s %8s  %s\n' model thr batch nnc_p50_ms ort_p50_ms ratio note
ratios=()
declare -A tratios
for m in "${models[@]}"; do
  file="$(model_file "$m")" || true
  [[ -f "$file" ]] || { printf '%-22s %s\n' "$m" "FAIL: no model file"; continue; }
  for t in ${threads_list//,/ }; do
    for b in $(batches "$m"); do
      read -r -a args <<<"$(bench_args "$m" "$b")"
      best_n=- best_o=- note=""
      for ((r = 1; r <= reps; r++)); do
        base="$LOG/$m.t$t.b$b.r$r"
        if "$NNCOMPRESS" --threads "$t" bench "$file" --batch-sizes "$b" --json "${timing[@]}" "${args[@]}" >"$base.nnc.json" 2>"$base.nnc.err"; then
          v=$(p50_of "$base.nnc.json")
          [[ "$best_n" == - ]] || v=$(awk -v a="$best_n" -v b="$v" 'BEGIN { print (a < b ? a : b) }')
          best_n=$v
        else
          note="nncompress FAIL: $(errline "$base.nnc.err")"
        fi
        if node "$ORT/ort_bench.js" "$file" --threads "$t" --batch-sizes "$b" --json "${timing[@]}" "${args[@]}" >"$base.ort.json" 2>"$base.ort.err"; then
          v=$(p50_of "$base.ort.json")
          [[ "$best_o" == - ]] || v=$(awk -v a="$best_o" -v b="$v" 'BEGIN { print (a < b ? a : b) }')
          best_o=$v
        else
          note="${note:+$note; }ORT FAIL: $(errline "$base.ort.err")"
        fi
        [[ -n "$note" ]] && break
      done
      ratio=-
      if [[ "$best_n" != - && "$best_o" != - ]]; then
        ratio=$(awk -v a="$best_n" -v b="$best_o" 'BEGIN { printf "%.3f", a / b }')
        ratios+=("$ratio")
        tratios[$t]+="$ratio "
      fi
      fmt() { [[ "$1" == - ]] && echo - || awk -v x="$1" 'BEGIN { printf "%.3f", x }'; }
      printf '%-22s %3s %5s %12s %12s %8s  %s\n' "$m" "$t" "$b" "$(fmt "$best_n")" "$(fmt "$best_o")" "$ratio" "$note"
    done
  done
done
geomean() { awk '{ for (i = 1; i <= NF; i++) { s += log($i); n++ } } END { if (n) printf "%.3f (%d cases)", exp(s / n), n; else print "-" }' <<<"$*"; }
echo "geometric mean of nncompress/ORT p50 ratios: $(geomean "${ratios[@]}")"
for t in ${threads_list//,/ }; do echo "  threads $t: $(geomean "${tratios[$t]:-}")"; done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

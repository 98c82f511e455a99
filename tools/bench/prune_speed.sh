#!/usr/bin/env bash
# What structured pruning buys: each model is pruned with
#   nncompress --json --force prune MODEL -o PRUNED --sparsity S --granularity G
# (prune-channels), then both files are timed at batch 1 in nncompress's runtime
# (`nncompress --threads T bench`) and in ONNX Runtime (tools/ort/ort_bench.js: same seeded
# inputs, warmup, runs; intra-op threads T). Each timing runs --reps times, alternating original
# and pruned, and the best (lowest) p50 is kept: the machine is shared, and the minimum is the
# estimate least disturbed by other load.
# Prints per model: parameters and MACs per sample before/after (from the prune JSON; MACs are
# "-" when input dims are dynamic), p50 latencies before/after and the speedup in each runtime.
# The issue's target: 50% of the channels of resnet_small -> >= 1.7x faster in both runtimes.
# A benchmark, not a test: it never fails on time.
#
# usage: prune_speed.sh [--sparsity S] [--granularity G] [--reps N] [--threads T] [--quick]
#                       [--dim SYMBOL=VALUE ...] [MODEL ...]
#   MODEL: bundled model names (models/<name>.onnx) or .onnx paths; default: resnet_small
#   defaults: --sparsity 0.5 --granularity channel --reps 3 --threads 1
#   --quick  warmup 1, runs 5, min-seconds 0.2 (a smoke run, not for the results table)
#   --dim    a symbolic input dim for both runtimes' bench (e.g. the image size of a detector)
# env: NNCOMPRESS (default build/tools/nncompress/nncompress), NNC_MODELS_DIR (default models/),
#      NNC_BENCH_LOG (folder for pruned models and raw JSON, default a temporary folder)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ORT="$ROOT/tools/ort"
NNCOMPRESS="${NNCOMPRESS:-$ROOT/build/tools/nncompress/nncompress}"
MODELS_DIR="${NNC_MODELS_DIR:-$ROOT/models}"

die() { echo "prune_speed.sh: error: $*" >&2; exit 2; }

sparsity=0.5 granularity=channel reps=3 threads=1 quick=0 models=() dims=()
while (($#)); do
  case "$1" in
    --sparsity) sparsity="${2:?}"; shift ;;
    --granularity) granularity="${2:?}"; shift ;;
    --reps) reps="${2:?}"; shift ;;
    --threads) threads="${2:?}"; shift ;;
    --quick) quick=1 ;;
    --dim) dims+=(--dim "${2:?}"); shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) models+=("$1") ;;
  esac
  shift
done
((${#models[@]})) || models=(resnet_small)
[[ -x "$NNCOMPRESS" ]] || die "nncompress not found: $NNCOMPRESS"
[[ -d "$ORT/node_modules/onnxruntime-node" ]] || die "onnxruntime-node not installed: run tools/ort/install.sh"
LOG="${NNC_BENCH_LOG:-$(mktemp -d "${TMPDIR:-/tmp}/nnc-prune-speed.XXXXXX")}"
mkdir -p "$LOG"
timing=()
((quick)) && timing=(--warmup 1 --runs 5 --min-seconds 0.2)

json_get() {  # FILE EXPR (a JavaScript expression over j) -> value or "-"
  node -e 'try { const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const v = eval(process.argv[2]); console.log(v === null || v === undefined ? "-" : v) } catch { console.log("-") }' "$1" "$2"
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-") print b; else if (b == "-") print a; else print (a < b ? a : b) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx", a / b }'; }

# Best p50 (ms) at batch 1 of runtime $1 (nnc|ort) on file $2; raw JSON under $3.
p50() {
  local rt="$1" file="$2" base="$3"
  if [[ "$rt" == nnc ]]; then
    "$NNCOMPRESS" --threads "$threads" bench "$file" --batch-sizes 1 --json "${timing[@]}" "${dims[@]}" >"$base.json" 2>"$base.err" || { echo -; return; }
  else
    node "$ORT/ort_bench.js" "$file" --threads "$threads" --batch-sizes 1 --json "${timing[@]}" "${dims[@]}" >"$base.json" 2>"$base.err" || { echo -; return; }
  fi
  json_get "$base.json" 'j.results[0].p50_ms'
}

echo "prune_speed: prune-channels sparsity $sparsity ($granularity), batch 1, $threads thread(s), best p50 of $reps; raw JSON in $LOG"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) CPUs at $(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%-18s %19s %23s %19s %8s %19s %8s\n' model params macs/sample nnc_p50_ms speedup ort_p50_ms speedup
for m in "${models[@]}"; do
  if [[ "$m" == *.onnx ]]; then src="$m"; name="$(basename "$m" .onnx)"; else src="$MODELS_DIR/$m.onnx"; name="$m"; fi
  [[ -f "$src" ]] || { printf '%-18s %s\n' "$name" "FAIL: no model file $src"; continue; }
  pruned="$LOG/$name.pruned.onnx"
  if ! "$NNCOMPRESS" --json --force prune "$src" -o "$pruned" --sparsity "$sparsity" --granularity "$granularity" \
       >"$LOG/$name.prune.json" 2>"$LOG/$name.prune.err"; then
    printf '%-18s %s\n' "$name" "FAIL: prune ($(grep -m1 -i error "$LOG/$name.prune.err" | cut -c1-120))"
    continue
  fi
  stats="$LOG/$name.prune.json"
  params="$(json_get "$stats" 'j.stats.params_before')->$(json_get "$stats" 'j.stats.params_after')"
  macs="$(json_get "$stats" 'j.stats.macs_before')->$(json_get "$stats" 'j.stats.macs_after')"
  declare -A best=([nnc0]=- [nnc1]=- [ort0]=- [ort1]=-)
  for ((r = 1; r <= reps; r++)); do
    for rt in nnc ort; do
      best[${rt}0]=$(min "${best[${rt}0]}" "$(p50 "$rt" "$src" "$LOG/$name.$rt.orig.r$r")")
      best[${rt}1]=$(min "${best[${rt}1]}" "$(p50 "$rt" "$pruned" "$LOG/$name.$rt.pruned.r$r")")
    done
  done
  printf '%-18s %19s %23s %19s %8s %19s %8s\n' "$name" "$params" "$macs" \
    "$(printf '%.3f->%.3f' "${best[nnc0]/-/0}" "${best[nnc1]/-/0}")" "$(ratio "${best[nnc0]}" "${best[nnc1]}")" \
    "$(printf '%.3f->%.3f' "${best[ort0]/-/0}" "${best[ort1]/-/0}")" "$(ratio "${best[ort0]}" "${best[ort1]}")"
  unset best
done
echo "(speedup: p50 before / p50 after; MACs per sample, '-' when input dims are dynamic)"

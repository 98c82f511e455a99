#!/usr/bin/env bash
# Peak memory of nncompress's runtime vs ONNX Runtime on the same benchmark of one model:
#   /usr/bin/time -v nncompress bench MODEL --runs 3 --json
#   /usr/bin/time -v node tools/ort/ort_bench.js MODEL --runs 3 --json
# Both: 3 warmup runs, then at least 3 timed runs and 1 s (the defaults of both tools), batch 1,
# seeded random inputs. Reports the peak RSS of each process as measured by the kernel
# (time -v "Maximum resident set size"; the whole node process for ORT, including the V8 heap
# and the input/output buffers in JS), the peak RSS each tool reports itself, and p50.
# Each side runs --reps times (default 3); the lowest peak RSS is kept (the numbers barely vary).
#
# usage: ort_memory.sh [--reps N] [--threads T] [MODEL]   (default MODEL: isnet_fp16 from the
#        real-model cache; a name is looked up there and in the bundled models folder;
#        --threads: both runtimes, default 2)
# env: NNCOMPRESS, NNC_MODELS_DIR, NNC_CACHE as in tools/ort/crosscheck.sh
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ORT="$ROOT/tools/ort"
NNCOMPRESS="${NNCOMPRESS:-$ROOT/build/tools/nncompress/nncompress}"
MODELS_DIR="${NNC_MODELS_DIR:-$ROOT/models}"
CACHE="${NNC_CACHE:-$HOME/.cache/nncompress}/realmodels"

die() { echo "ort_memory.sh: error: $*" >&2; exit 2; }
reps=3 threads=2 model=isnet_fp16
while (($#)); do
  case "$1" in
    --reps) reps="${2:?}"; shift ;;
    --threads) threads="${2:?}"; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) model="$1" ;;
  esac
  shift
done
file="$model"
[[ -f "$file" ]] || file="$CACHE/models/${model%.onnx}.onnx"
[[ -f "$file" ]] || file="$MODELS_DIR/${model%.onnx}.onnx"
[[ -f "$file" ]] || die "model not found: $model"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
[[ -x "$NNCOMPRESS" ]] || die "nncompress not found: $NNCOMPRESS"
[[ -d "$ORT/node_modules/onnxruntime-node" ]] || die "onnxruntime-node not installed: run tools/ort/install.sh"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/nnc-ort-mem.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

measure() {  # NAME CMD... -> "time_v_peak_kib self_peak_bytes p50_ms"
  local name="$1"; shift
  local best="" line
  for ((r = 1; r <= reps; r++)); do
    if ! /usr/bin/time -v -o "$tmp/$name.time" "$@" >"$tmp/$name.json" 2>"$tmp/$name.err"; then
      echo "ort_memory.sh: $name failed: $(grep -m1 -i error "$tmp/$name.err" || tail -n1 "$tmp/$name.err")" >&2
      echo "- - -"; return
    fi
    line="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/$name.time") $(node -e '
      const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(j.peak_rss_bytes, j.results[0].p50_ms.toFixed(1))' "$tmp/$name.json")"
    if [[ -z "$best" || "${line%% *}" -lt "${best%% *}" ]]; then best="$line"; fi
  done
  echo "$best"
}

echo "ort_memory: $(basename "$file") ($(stat -c %s "$file") bytes), batch 1, --runs 3, threads $threads, lowest of $reps runs"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) CPUs at $(date -u '+%Y-%m-%d %H:%M UTC')"
read -r n_kib n_self n_p50 < <(measure nncompress "$NNCOMPRESS" --threads "$threads" bench "$file" --runs 3 --json)
read -r o_kib o_self o_p50 < <(measure ort node "$ORT/ort_bench.js" "$file" --threads "$threads" --runs 3 --json)
mib() { [[ "$1" == - ]] && echo - || awk -v k="$1" -v d="$2" 'BEGIN { printf "%.1f", k / d }'; }
printf '%-12s %16s %18s %10s\n' runtime 'peak RSS (MiB)' 'self-reported (MiB)' 'p50 (ms)'
printf '%-12s %16s %18s %10s\n' nncompress "$(mib "$n_kib" 1024)" "$(mib "$n_self" 1048576)" "$n_p50"
printf '%-12s %16s %18s %10s\n' onnxruntime "$(mib "$o_kib" 1024)" "$(mib "$o_self" 1048576)" "$o_p50"
if [[ "$n_kib" != - && "$o_kib" != - ]]; then
  awk -v a="$n_kib" -v b="$o_kib" 'BEGIN { printf "nncompress / ORT peak RSS: %.2f\n", a / b }'
fi

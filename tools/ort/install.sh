#!/usr/bin/env bash
# Install onnxruntime-node (pinned in package.json / package-lock.json) into
# tools/ort/node_modules and check that its CPU binding loads. Idempotent.
#
# --ignore-scripts: the package's postinstall would try to download GPU (CUDA)
# binaries, which fails without internet; the CPU binaries for linux-x64/arm64
# are already inside the npm package.
set -euo pipefail
cd "$(dirname "$0")"

command -v node >/dev/null || { echo "install.sh: error: node not found" >&2; exit 1; }
command -v npm >/dev/null || { echo "install.sh: error: npm not found" >&2; exit 1; }

want=$(node -p 'require("./package.json").dependencies["onnxruntime-node"]')
have=$(node -p 'try { require("./node_modules/onnxruntime-node/package.json").version } catch { "" }')
if [[ "$have" != "$want" ]]; then
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
    || { echo "install.sh: error: npm install failed" >&2; exit 1; }
fi
node selftest.js || { echo "install.sh: error: onnxruntime-node does not load here" >&2; exit 1; }

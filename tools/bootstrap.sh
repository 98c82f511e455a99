#!/usr/bin/env bash
# Installs what nncompress needs to build (and, with --test, to run its tests) from Debian 12
# packages. Idempotent: packages already installed are not touched. Runs as root or via sudo.
set -euo pipefail

BUILD_PACKAGES=(build-essential cmake libonnx-dev libprotobuf-dev protobuf-compiler libeigen3-dev
  libcli11-dev libspdlog-dev nlohmann-json3-dev zlib1g-dev libstb-dev)
# The quick start fine-tunes on Fashion-MNIST's training split (/usr/share/datasets/fashion-mnist).
DEMO_PACKAGES=(dataset-fashion-mnist)
# chromium: the HTML report test renders the page headless and checks the screenshot.
TEST_PACKAGES=(libgtest-dev libonnx-testdata chromium)

packages=("${BUILD_PACKAGES[@]}" "${DEMO_PACKAGES[@]}")
if [[ "${1:-}" == "--test" ]]; then packages+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "bootstrap: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done"

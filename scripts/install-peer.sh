#!/usr/bin/env bash
# Installs the peer the benchmark measures this system against: Celery 5.2 and numpy from Debian, plus Debian's onnx
# package, which reads the benchmark's own ONNX file so that the peer evaluates the very same MLP weights.
# They are used with the system's Python (/usr/bin/python3), never a pyenv or virtualenv one. Safe to run again: a
# no-op once installed. Needs root (or sudo) for apt-get. Every apt call is bounded by `timeout`. Prints the seconds
# it took.
set -euo pipefail

packages=(python3-celery python3-numpy python3-onnx)
python=/usr/bin/python3
started=$(date +%s.%N)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
ready() { [ -x "$python" ] && "$python" -c 'import celery, numpy, onnx' >/dev/null 2>&1; }

if ready; then
  echo "install-peer: $("$python" -c 'import celery, numpy, onnx; print(f"celery {celery.__version__}, numpy {numpy.__version__}, onnx {onnx.__version__}")') ready"
  exit 0
fi

apt-cache policy "${packages[@]}" | grep -E '^[^ ]|Candidate' || true
# Debian's policy-rc.d keeps services from starting; these packages start none, and the front end must not prompt.
export DEBIAN_FRONTEND=noninteractive
as_root timeout 300 apt-get update -qq
as_root timeout 600 apt-get install -y -qq --no-install-recommends "${packages[@]}"

ready || { echo "install-peer: $python cannot import celery, numpy and onnx after the install" >&2; exit 1; }
echo "install-peer: installed ${packages[*]} in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

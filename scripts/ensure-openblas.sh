#!/usr/bin/env bash
# Make sure Debian's OpenBLAS (with LAPACK) is installed: ndarray-linalg links it (openblas-system).
set -euo pipefail
if [ -e /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h ] || dpkg -s libopenblas-dev >/dev/null 2>&1; then
  exit 0
fi
pkgs="libopenblas-dev pkg-config"
if [ "$(id -u)" -eq 0 ]; then
  echo "== installing $pkgs with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null
else
  echo "error: OpenBLAS is missing. Install it with:" >&2
  echo "  sudo apt-get install -y $pkgs" >&2
  exit 1
fi

#!/usr/bin/env bash
# Make sure the Debian packages behind the text corpora are installed: bible-kjv (the `bible`
# program, from which `lab corpus prepare kjv` produces the KJV corpus) and fortunes (the
# fortunes corpus, read from /usr/share/games/fortunes; fortunes-min alone has only one of its
# files, so the check asks dpkg for the full package).
set -euo pipefail
pkgs=""
command -v bible >/dev/null 2>&1 || pkgs="$pkgs bible-kjv"
dpkg -s fortunes >/dev/null 2>&1 || pkgs="$pkgs fortunes"
if [ -z "$pkgs" ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  echo "== installing$pkgs with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null
else
  echo "error: the corpora need Debian packages. Install them with:" >&2
  echo "  sudo apt-get install -y$pkgs" >&2
  exit 1
fi

#!/usr/bin/env bash
# Installs Debian's chromium (headless browser) for the report rendering test, only if it is missing. Idempotent.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
command -v apt-get >/dev/null || { echo "install-chromium: apt-get not found; install chromium by hand" >&2; exit 1; }
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
echo "install-chromium: installing chromium from Debian ..." >&2
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq >&2
$sudo_cmd apt-get install -y -qq --no-install-recommends chromium >&2

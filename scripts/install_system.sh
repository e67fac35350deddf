#!/usr/bin/env bash
# Install the system tools the suite needs where apt-get exists: flite, espeak-ng, ffmpeg, and chromium with its
# driver (the explorer's browser test, tests/test_explorer_browser.py). Elsewhere, print what to install and go on
# (import emodubber works without them; the browser test skips without chromium).
set -euo pipefail
# command:package
tools=(flite:flite espeak-ng:espeak-ng ffmpeg:ffmpeg chromium:chromium chromedriver:chromium-driver)
need=()
for tp in "${tools[@]}"; do command -v "${tp%%:*}" >/dev/null 2>&1 || need+=("${tp##*:}"); done
[ ${#need[@]} -eq 0 ] && { echo "system tools present: flite espeak-ng ffmpeg chromium chromedriver"; exit 0; }
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing with apt-get: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "WARNING: missing ${need[*]}; install them with your package manager (brew install flite espeak-ng ffmpeg;" \
       "chromium + chromedriver only for the explorer's browser test)" >&2
fi

#!/usr/bin/env bash
# Install the system tools the suite needs (flite, espeak-ng, ffmpeg) where apt-get exists.
# Elsewhere, print what to install and go on (import emodubber works without them).
set -euo pipefail
need=()
for t in flite espeak-ng ffmpeg; do command -v "$t" >/dev/null 2>&1 || need+=("$t"); done
[ ${#need[@]} -eq 0 ] && { echo "system tools present: flite espeak-ng ffmpeg"; exit 0; }
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing with apt-get: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "WARNING: missing ${need[*]}; install them with your package manager (brew install flite espeak-ng ffmpeg)" >&2
fi

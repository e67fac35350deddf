#!/usr/bin/env bash
# The benchmark's peer, Matcha-TTS, in its own virtual environment (.venv-matcha, git-ignored): it pins
# numpy 1.26 and pulls lightning, gradio, diffusers, which must not enter emodubber's .venv.
# Idempotent: does nothing when .venv-matcha already imports matcha. On failure the benchmarks still run and
# say that the peer was skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-matcha
PY=${PYTHON:-python3}
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import matcha.models.matcha_tts" 2>/dev/null; then
  echo "Matcha-TTS peer present: $VENV"; exit 0
fi
echo "installing the Matcha-TTS peer into $VENV (once; about 2 minutes)"
test -x "$VENV/bin/python" || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip 'setuptools<81' wheel
"$VENV/bin/python" -m pip install -q torch==2.14.1 torchaudio==2.11.0 matcha-tts
"$VENV/bin/python" -c "import matcha.models.matcha_tts" && echo "Matcha-TTS peer installed: $VENV"

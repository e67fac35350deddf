"""Grey mouth-ROI frames cut from a video file by a real face detector.

Pipeline (works on frontal faces such as GRID's and the embedded corpus's renders):

1. read every frame of the file, grey (:func:`emodubber.media.read_video`);
2. detect the face with OpenCV's shipped Haar frontal-face cascade on every ``detect_every``-th
   frame (the largest face wins); frames between detections and failed detections are linearly
   interpolated from their neighbours (a clip with no detection at all raises :class:`FaceNotFoundError`);
3. a geometric mouth box: a square of side ``MOUTH_SIDE`` × face width centred ``MOUTH_CY`` × face
   height below the face box's top (the lower third of the face), temporally smoothed by a centred
   moving average of ``smooth`` frames;
4. crop (edges padded by replication), resize to ``size`` × ``size``: uint8 ``[F, size, size]``.

The renderer's metadata is never read: the ROI comes from the pixels, as for any real clip.
OpenCV (``cv2``) is imported inside the functions that use it: importing this module stays light.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emodubber.media import VideoReadError, read_video
from emodubber.tools import require_module

__all__ = ["FaceNotFoundError", "VideoReadError", "RoiResult", "detect_faces", "fill_boxes",
           "mouth_boxes", "crop_rois", "extract_mouth_rois", "MOUTH_CY", "MOUTH_SIDE"]

#: Mouth-box centre, as a fraction of the face-box height below its top edge.
MOUTH_CY = 0.80
#: Mouth-box side as a fraction of the face-box width.
MOUTH_SIDE = 0.55


class FaceNotFoundError(ValueError):
    """No face was detected in any frame of a clip; the message names the file."""


@dataclass
class RoiResult:
    """Mouth ROIs of one clip and how they were found."""

    rois: np.ndarray  # uint8 [F, size, size]
    mouth_boxes: np.ndarray  # float [F, 4]: x, y, side, side (pixels of the source frame)
    face_boxes: np.ndarray  # float [F, 4]: x, y, w, h after interpolation
    detected: np.ndarray  # bool [F]: frames where the cascade found a face (others interpolated)
    fps: float


@functools.lru_cache(maxsize=1)
def _cascade():
    cv2 = require_module("cv2", "face detection")
    c = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
    if c.empty():
        raise RuntimeError("OpenCV's haarcascade_frontalface_default.xml could not be loaded")
    return c


def detect_faces(frames: np.ndarray, detect_every: int = 1, min_face_frac: float = 0.25,
                 max_side: int = 160) -> np.ndarray:
    """Face boxes ``float [F, 4]`` (x, y, w, h) with NaN rows where nothing was detected or not searched.

    Frames larger than ``max_side`` are downscaled for detection (boxes are returned in source pixels);
    faces narrower than ``min_face_frac`` of the frame's shorter side are ignored.
    """
    cv2 = require_module("cv2", "face detection")
    F, H, W = frames.shape
    scale = min(1.0, max_side / max(H, W))
    boxes = np.full((F, 4), np.nan)
    min_side = max(12, int(min_face_frac * min(H, W) * scale))
    idx = sorted(set(range(0, F, max(1, detect_every))) | {F - 1})
    for f in idx:
        img = frames[f] if scale == 1.0 else cv2.resize(frames[f], None, fx=scale, fy=scale,
                                                        interpolation=cv2.INTER_AREA)
        found = _cascade().detectMultiScale(img, scaleFactor=1.15, minNeighbors=4, minSize=(min_side, min_side))
        if len(found):
            x, y, w, h = max(found, key=lambda b: b[2] * b[3])
            boxes[f] = np.array([x, y, w, h], dtype=float) / scale
    return boxes


def fill_boxes(boxes: np.ndarray, where: str = "") -> np.ndarray:
    """Linear interpolation of NaN rows from their neighbours (edges hold the nearest detection)."""
    ok = ~np.isnan(boxes[:, 0])
    if not ok.any():
        raise FaceNotFoundError(f"no face detected in any of the {len(boxes)} frames{where}")
    t = np.arange(len(boxes))
    return np.stack([np.interp(t, t[ok], boxes[ok, k]) for k in range(4)], axis=1)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along axis 0 with edge replication."""
    if width <= 1 or len(x) == 1:
        return x
    pad = width // 2
    xp = np.pad(x, ((pad, width - 1 - pad), (0, 0)), mode="edge")
    kernel = np.ones(width) / width
    return np.stack([np.convolve(xp[:, k], kernel, mode="valid") for k in range(x.shape[1])], axis=1)


def mouth_boxes(face_boxes: np.ndarray, smooth: int = 5) -> np.ndarray:
    """Square mouth boxes ``[F, 4]`` (x, y, side, side) from filled face boxes, temporally smoothed."""
    x, y, w, h = face_boxes.T
    side = MOUTH_SIDE * w
    cx, cy = x + 0.5 * w, y + MOUTH_CY * h
    geo = _smooth(np.stack([cx, cy, side], axis=1), smooth)
    cx, cy, side = geo.T
    return np.stack([cx - side / 2, cy - side / 2, side, side], axis=1)


def crop_rois(frames: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Crop each frame to its box (replicating edges outside the frame), resize: ``uint8 [F, size, size]``."""
    cv2 = require_module("cv2", "mouth ROI cropping")
    out = np.empty((len(frames), size, size), dtype=np.uint8)
    for f, (frame, (bx, by, bw, bh)) in enumerate(zip(frames, boxes)):
        # an affine map of the box onto the output square; BORDER_REPLICATE handles boxes off the frame
        sx, sy = size / max(bw, 1e-3), size / max(bh, 1e-3)
        M = np.array([[sx, 0, -bx * sx], [0, sy, -by * sy]], dtype=np.float64)
        out[f] = cv2.warpAffine(frame, M, (size, size), flags=cv2.INTER_AREA if sx < 1 else cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    return out


def extract_mouth_rois(path: str | Path, size: int, detect_every: int = 6, smooth: int = 5) -> RoiResult:
    """Mouth ROIs of the video at ``path``: uint8 ``[F, size, size]`` (see the module docstring)."""
    frames, fps = read_video(path, grey=True)
    faces = detect_faces(frames, detect_every=detect_every)
    detected = ~np.isnan(faces[:, 0])
    filled = fill_boxes(faces, where=f" of {path}")
    boxes = mouth_boxes(filled, smooth=smooth)
    return RoiResult(crop_rois(frames, boxes, size), boxes, filled, detected, fps)

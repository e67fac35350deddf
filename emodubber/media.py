"""Video and audio files through OpenCV and ffmpeg: read frames, probe, extract the audio, mux.

One place for the file formats the data pipeline (``data.roi``), the LSE judge (``metrics.lse``,
``metrics.sync_expert``) and the dubbing pipeline (``dub``) share. Frames are ``uint8 [F, H, W, 3]`` BGR
(OpenCV order) or ``[F, H, W]`` grey; F video frames at 25 fps carry T = 4F mel frames (``docs/paper.md`` §B.2).

OpenCV (``cv2``) is imported inside :func:`read_video` (it is heavy and only some callers read video);
ffmpeg / ffprobe are found through :func:`emodubber.tools.require_binary` at call time.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emodubber import tools
from emodubber.utils import atomic_path

__all__ = ["MediaError", "VideoReadError", "VideoInfo", "read_video", "probe", "extract_audio", "mux"]


class MediaError(RuntimeError):
    """ffmpeg / ffprobe could not read or write a file; the message names it and says why."""


class VideoReadError(ValueError):
    """A video file that cannot be opened or holds no frames; the message names the file."""


@dataclass
class VideoInfo:
    """What ffprobe says about a video's first video stream."""

    path: Path
    fps: float
    n_frames: int | None
    seconds: float | None
    width: int
    height: int
    has_audio: bool


def read_video(path: str | Path, grey: bool = False, strict: bool = True) -> tuple[np.ndarray, float]:
    """Every frame of a video and its frame rate: ``uint8 [F, H, W, 3]`` BGR, or ``[F, H, W]`` with ``grey``.

    ``strict``: a missing file raises ``FileNotFoundError``, an unreadable or empty one :class:`VideoReadError`;
    otherwise such a video gives no frames (``[0, 1, 1, 3]``) and the rate OpenCV reports (0 when none).
    """
    cv2 = tools.require_module("cv2", "reading video")
    path = Path(path)
    if strict and not path.exists():
        raise FileNotFoundError(f"video {path} does not exist")
    cap = cv2.VideoCapture(str(path))
    try:
        if strict and not cap.isOpened():
            raise VideoReadError(f"video {path} cannot be opened by OpenCV")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if grey and frame.ndim == 3:
                frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            frames.append(frame)
    finally:
        cap.release()
    if not frames:
        if strict:
            raise VideoReadError(f"video {path} holds no readable frame")
        return np.zeros((0, 1, 1, 3), np.uint8), fps
    return np.stack(frames), fps


def _rate(s: str) -> float:
    num, _, den = str(s).partition("/")
    try:
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0


def probe(path: str | Path, timeout: float = 60) -> VideoInfo:
    """ffprobe a video's first video stream; :class:`MediaError` when it has none or no frame rate."""
    path = Path(path)
    ffprobe = tools.require_binary("ffprobe")
    cmd = [ffprobe, "-v", "error", "-show_entries",
           "stream=codec_type,avg_frame_rate,r_frame_rate,nb_frames,width,height:format=duration",
           "-of", "json", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        info = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        info = {}
    streams = info.get("streams") or []
    vids = [s for s in streams if s.get("codec_type") == "video"]
    if proc.returncode != 0 or not vids:
        why = (proc.stderr.strip().splitlines() or ["no video stream"])[-1]
        raise MediaError(f"video {path} is not a readable video ({why})")
    v = vids[0]
    fps = _rate(v.get("avg_frame_rate", "0/0")) or _rate(v.get("r_frame_rate", "0/0"))
    if fps <= 0:
        raise MediaError(f"video {path} has no frame rate ffprobe can read")
    try:
        n = int(v["nb_frames"])
    except (KeyError, ValueError, TypeError):
        n = None
    try:
        secs = float((info.get("format") or {}).get("duration"))
    except (TypeError, ValueError):
        secs = None
    return VideoInfo(path, fps, n, secs, int(v.get("width") or 0), int(v.get("height") or 0),
                     any(s.get("codec_type") == "audio" for s in streams))


def _ffmpeg(args: list[str], what: str, timeout: float | None) -> None:
    """Run ``ffmpeg -y -loglevel error <args>``; :class:`MediaError` (``what: last stderr line``) on failure."""
    ffmpeg = tools.require_binary("ffmpeg")
    proc = subprocess.run([ffmpeg, "-y", "-loglevel", "error", *args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise MediaError(f"{what}: {why}")


def extract_audio(video: str | Path, out: str | Path, sr: int = 16000, timeout: float | None = 600) -> Path:
    """The audio track of a video as mono 16-bit wav at ``sr`` (what syncnet-python's pipeline scores)."""
    _ffmpeg(["-i", str(video), "-vn", "-ac", "1", "-ar", str(sr), "-c:a", "pcm_s16le", str(out)],
            f"ffmpeg audio extraction failed for {video}", timeout)
    return Path(out)


def mux(video: str | Path, wav: str | Path, out: str | Path, bitrate: str = "192k", shortest: bool = False,
        timeout: float | None = 600) -> Path:
    """``video``'s picture (stream copy) with ``wav`` as its only audio (AAC at ``bitrate``) into ``out``.

    Written to a temporary file beside ``out`` and renamed onto it (``os.replace``): a failed mux leaves no
    file. ``shortest`` stops at the shorter stream (``-shortest``).
    """
    out = Path(out)
    with atomic_path(out) as tmp:
        _ffmpeg(["-i", str(video), "-i", str(wav), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
                 "-c:a", "aac", "-b:a", bitrate, *(["-shortest"] if shortest else []), str(tmp)],
                f"ffmpeg could not mux {Path(wav).name} onto {video}", timeout)
    return out

"""The user's inputs to ``emodubber dub``, checked one by one: text, reference voice, video, checkpoints.

Every refusal is a :class:`DubInputError` whose ``kind`` says which check failed (tests and callers
match on it) and whose one-line message names the file or word and the problem. Inputs that can be
repaired are repaired and say so in a note: a stereo reference is averaged to mono, a reference at
another sample rate is resampled to the model's, a video at another frame rate is re-encoded at 25 fps
with ffmpeg into a temporary directory (the user's files are never modified). Video files are probed
through :mod:`emodubber.media`; soundfile and torchaudio are imported where a reference is read (start-up time).

The checkpoint directory (``--checkpoint DIR``) is the ``checkpoints`` folder the training stages write
(``cfg.work_dir / "checkpoints"``, see :mod:`emodubber.train.stages`)::

    DIR/dubber/model.pt          EmoDubber weights + config + version (required)
    DIR/emotion_expert/model.pt  the emotion expert p_ψ (required when α or β > 0)
    DIR/vocoder/model.pt         HiFi-GAN generator (optional; Griffin-Lim otherwise)
    DIR/dubber/summary.json      optional: names the profile the dubber was trained with (its ROI size)

``DIR`` may also be the ``dubber`` stage folder itself (``DIR/model.pt``); its siblings are then used.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emodubber.media import MediaError, VideoInfo, probe
from emodubber.text.g2p import OOVError, text_to_phonemes
from emodubber.text.grid import normalise
from emodubber.text.symbols import is_silence
from emodubber.tools import require_binary

__all__ = ["DubInputError", "CheckpointLayout", "Reference", "VideoInfo", "MIN_PHONE_S", "MIN_SILENCE_S",
           "MIN_REFERENCE_S", "SILENCE_DBFS", "text_phonemes", "load_reference", "probe_video",
           "conform_video", "check_fits", "min_speech_seconds", "find_checkpoints"]

#: Shortest average duration of a spoken phone we accept (20 phones/s is very fast speech; the synthetic
#: corpus speaks at ~11 phones/s, its fastest emotion at ~15).
MIN_PHONE_S = 0.05
#: A leading/trailing/inner silence needs at least one video frame (the aligner gives every symbol ≥ 1 frame).
MIN_SILENCE_S = 0.04
#: Shortest usable reference recording (resemblyzer's partial window is 1.6 s; below 1 s the voice is a guess).
MIN_REFERENCE_S = 1.0
#: A reference whose RMS is below this (dB full scale) is silence.
SILENCE_DBFS = -60.0


class DubInputError(ValueError):
    """An input ``emodubber dub`` cannot use. ``kind`` names the check (e.g. ``"reference-silent"``)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _existing_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path; :class:`DubInputError` ``<what>-missing`` if it does not exist or is not a file."""
    path = Path(path)
    if not path.exists():
        raise DubInputError(f"{what}-missing", f"{what} {path} does not exist")
    if not path.is_file():
        raise DubInputError(f"{what}-missing", f"{what} {path} is not a file")
    return path


# ------------------------------------------------------------------------------------------------
# text
# ------------------------------------------------------------------------------------------------


def text_phonemes(text: str) -> list[str]:
    """ARPAbet phonemes of ``text`` with ``sil`` at both ends (CMUdict, as the corpus is transcribed)."""
    if text is None or not normalise(str(text)).strip():
        raise DubInputError("text-empty", f"the text is empty (got {text!r}): give the words to speak")
    try:
        return text_to_phonemes(str(text))
    except OOVError as e:
        raise DubInputError("text-oov", f"the text cannot be read aloud: {e}") from None


def min_speech_seconds(phonemes: list[str]) -> float:
    """Shortest plausible duration of ``phonemes``: spoken phones × :data:`MIN_PHONE_S`, silences × one frame."""
    n_sil = sum(1 for p in phonemes if is_silence(p))
    return (len(phonemes) - n_sil) * MIN_PHONE_S + n_sil * MIN_SILENCE_S


def check_fits(phonemes: list[str], n_frames: int, fps: float, video: str | Path = "the video") -> float:
    """Refuse a text that cannot be spoken within ``n_frames`` video frames; returns the spare seconds."""
    need = min_speech_seconds(phonemes)
    have = n_frames / fps
    if need > have + 1e-9 or len(phonemes) > n_frames:
        n_spoken = sum(1 for p in phonemes if p not in ("sil", "sp"))
        cut = math.ceil((need - have) / MIN_PHONE_S)
        raise DubInputError(
            "text-too-long",
            f"the text is too long for {video}: its {n_spoken} phonemes need at least {need:.2f} s "
            f"(≥ {MIN_PHONE_S * 1000:.0f} ms each) but the video lasts {have:.2f} s ({n_frames} frames): "
            f"{need - have:.2f} s too long (drop about {cut} phonemes or use a longer clip)")
    return have - need


# ------------------------------------------------------------------------------------------------
# reference voice
# ------------------------------------------------------------------------------------------------


@dataclass
class Reference:
    """A reference recording ready for the speaker encoder."""

    path: Path
    wav: np.ndarray  # float32 mono at ``sample_rate``
    sample_rate: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def load_reference(path: str | Path, sample_rate: int = 16000) -> Reference:
    """Read, check and conform a reference voice recording (mono, ``sample_rate``)."""
    import soundfile as sf

    path = _existing_file(path, "reference")
    try:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - libsndfile raises several types for garbage
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DubInputError("reference-unreadable", f"reference {path} is not readable audio ({msg})") from None
    notes: list[str] = []
    if wav.shape[0] == 0:
        raise DubInputError("reference-short", f"reference {path} holds no samples")
    if wav.shape[1] > 1:
        notes.append(f"reference {path.name}: {wav.shape[1]} channels averaged to mono")
    x = wav.mean(1)
    seconds = len(x) / sr
    if seconds < MIN_REFERENCE_S:
        raise DubInputError("reference-short", f"reference {path} lasts {seconds:.2f} s; at least "
                                               f"{MIN_REFERENCE_S:.0f} s of the target voice is needed")
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    dbfs = 20 * math.log10(max(rms, 1e-12))
    if dbfs < SILENCE_DBFS:
        raise DubInputError("reference-silent", f"reference {path} is silent (RMS {dbfs:.0f} dBFS < "
                                                f"{SILENCE_DBFS:.0f} dBFS): record the target voice")
    if sr != sample_rate:
        import torch
        import torchaudio

        x = torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(x)), sr, sample_rate).numpy()
        notes.append(f"reference {path.name}: resampled from {sr} Hz to {sample_rate} Hz")
    return Reference(path, x.astype(np.float32), sample_rate, seconds, notes)


# ------------------------------------------------------------------------------------------------
# video
# ------------------------------------------------------------------------------------------------


def probe_video(path: str | Path) -> VideoInfo:
    """ffprobe a video (:func:`emodubber.media.probe`); :class:`DubInputError` if it is missing or no video
    stream can be read."""
    path = _existing_file(path, "video")
    try:
        return probe(path)
    except MediaError as e:
        raise DubInputError("video-corrupt", str(e)) from None


def conform_video(info: VideoInfo, fps: int, tmp_dir: str | Path) -> tuple[Path, list[str]]:
    """The video at ``fps`` (the original when it already is; else an ffmpeg re-encode in ``tmp_dir``)."""
    if abs(info.fps - fps) < 1e-3:
        return info.path, []
    ffmpeg = require_binary("ffmpeg")
    out = Path(tmp_dir) / f"{info.path.stem}.{fps}fps.mp4"
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-i", str(info.path), "-an", "-vf", f"fps={fps}",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not out.exists():
        why = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise DubInputError("video-corrupt", f"video {info.path} could not be converted to {fps} fps ({why})")
    return out, [f"video {info.path.name}: {info.fps:.3g} fps converted to {fps} fps for lip reading"]


# ------------------------------------------------------------------------------------------------
# checkpoints
# ------------------------------------------------------------------------------------------------


@dataclass
class CheckpointLayout:
    """Where the model files of one ``--checkpoint DIR`` are (see the module docstring)."""

    root: Path
    dubber: Path
    emotion_expert: Path | None
    vocoder: Path | None
    profile: str | None  # the profile the dubber was trained with, from summary.json (None if unknown)
    summary: dict[str, Any] = field(default_factory=dict)


def find_checkpoints(path: str | Path) -> CheckpointLayout:
    """Resolve ``--checkpoint DIR``; refuses a missing directory or a missing dubber ``model.pt``."""
    p = Path(path)
    if not p.exists():
        raise DubInputError("checkpoint-missing", f"checkpoint directory {p} does not exist "
                                                  f"(train first: emodubber train all --profile …)")
    if p.is_file():
        raise DubInputError("checkpoint-missing", f"--checkpoint wants a directory holding dubber/model.pt, "
                                                  f"got the file {p}")
    root = p.parent if (p / "model.pt").is_file() and not (p / "dubber").is_dir() else p
    dubber = root / "dubber" / "model.pt" if root != p.parent else p / "model.pt"
    if not dubber.is_file():
        raise DubInputError("checkpoint-missing", f"checkpoint directory {p} holds no dubber/model.pt "
                                                  f"(expected layout: dubber/, emotion_expert/, vocoder/ model.pt)")
    expert = root / "emotion_expert" / "model.pt"
    voc = root / "vocoder" / "model.pt"
    summary: dict[str, Any] = {}
    s = dubber.parent / "summary.json"
    if s.is_file():
        try:
            summary = json.loads(s.read_text())
        except (OSError, json.JSONDecodeError):
            summary = {}
    return CheckpointLayout(root, dubber, expert if expert.is_file() else None, voc if voc.is_file() else None,
                            summary.get("profile"), summary)

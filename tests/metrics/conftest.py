"""Tiny fixtures for the judges: flite sentences and a rendered moving-mouth video (no corpus needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

SENTENCES = ["bin blue at f two now", "place red by g nine soon", "set white with p four please",
             "lay green in z seven again"]


def flite_wav(text: str, out: Path, voice: str = "slt", stretch: float | None = None) -> Path:
    cmd = ["flite", "-voice", voice, "-t", text, "-o", str(out)]
    if stretch:
        cmd[1:1] = ["--setf", f"duration_stretch={stretch}"]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def mouth_video(wav: np.ndarray, out: Path, sr: int = 16000, size: int = 64, delay_frames: int = 0,
                blank: bool = False) -> Path:
    """A 25-fps face-like picture whose mouth opening follows the audio envelope (shifted by ``delay_frames``)."""
    n = len(wav) // (sr // 25)
    env = np.array([np.sqrt(np.mean(wav[k * 640:(k + 1) * 640] ** 2)) for k in range(n)])
    env = env / (env.max() + 1e-9)
    env = np.roll(env, delay_frames)
    frames = np.zeros((n, size, size, 3), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    for k in range(n):
        if blank:
            continue
        f = frames[k]
        face = ((xx - size / 2) / (0.4 * size)) ** 2 + ((yy - size / 2) / (0.48 * size)) ** 2 < 1
        f[face] = (120, 160, 210)
        for ex in (0.35, 0.65):
            f[((xx - ex * size) ** 2 + (yy - 0.38 * size) ** 2) < (0.05 * size) ** 2] = (40, 40, 40)
        h = 0.02 * size + 0.12 * size * env[k]
        mouth = ((xx - size / 2) / (0.16 * size)) ** 2 + ((yy - 0.7 * size) / h) ** 2 < 1
        f[mouth] = (30, 20, 120)
    cmd = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{size}x{size}",
           "-r", "25", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", str(out)]
    subprocess.run(cmd, input=frames.tobytes(), check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def flite_clips(tmp_path_factory):
    """{(voice, sentence index): wav path} for two voices and four GRID sentences (16 kHz)."""
    if not shutil.which("flite"):
        pytest.skip("flite not installed")
    d = tmp_path_factory.mktemp("flite")
    out = {}
    for v in ("slt", "rms"):
        for i, s in enumerate(SENTENCES):
            out[(v, i)] = flite_wav(s, d / f"{v}_{i}.wav", voice=v)
    return out


@pytest.fixture(scope="session")
def random_syncnet(tmp_path_factory):
    """A randomly initialised syncnet-python S saved as a state_dict (plumbing tests only)."""
    import torch

    from emodubber.metrics.syncnet import syncnet_backend

    S, _, _ = syncnet_backend()
    torch.manual_seed(0)
    p = tmp_path_factory.mktemp("syncnet") / "random_S.pt"
    torch.save(S().state_dict(), p)
    return p


def flite_phones(text: str, out: Path, voice: str = "slt", extra: list[str] | None = None):
    """Synthesize ``text`` to ``out``; return (phonemes, spans) from flite's -psdur (pau -> sil)."""
    cmd = ["flite", "-voice", voice, *(extra or []), "-psdur", "-t", text, "-o", str(out)]
    r = subprocess.run(cmd, check=True, capture_output=True, text=True)
    phones, spans, prev = [], [], 0.0
    for tok in r.stdout.split():
        if ":" not in tok:
            continue
        p, end = tok.rsplit(":", 1)
        phones.append("sil" if p == "pau" else p.upper())
        spans.append([prev, float(end)])
        prev = float(end)
    return phones, spans


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A 6-clip dubbing corpus (2 voices x 3 sentences; wav + moving-mouth mp4) with manifest and references."""
    if not (shutil.which("flite") and shutil.which("ffmpeg")):
        pytest.skip("flite/ffmpeg not installed")
    import soundfile as sf

    from emodubber.data.manifest import ClipRecord, write_manifest, write_references

    root = tmp_path_factory.mktemp("corpus")
    (root / "wav").mkdir()
    (root / "video").mkdir()
    recs = []
    for v in ("slt", "rms"):
        for i, s in enumerate(SENTENCES[:3]):
            cid = f"{v}_{i}"
            wav = root / "wav" / f"{cid}.wav"
            phones, spans = flite_phones(s, wav, v)
            x, _ = sf.read(wav)
            mouth_video(x, root / "video" / f"{cid}.mp4")
            recs.append(ClipRecord(clip_id=cid, corpus="synthetic-dubbing", speaker=v, text=s, phonemes=phones,
                                   phone_spans=spans, wav=f"wav/{cid}.wav", video=f"video/{cid}.mp4",
                                   split="train" if i < 2 else "test", duration_s=len(x) / 16000))
    write_manifest(root / "dubbing.jsonl", recs)
    write_references(root / "references.tsv", {f"{v}_{i}": f"{v}_{(i + 1) % 3}" for v in ("slt", "rms")
                                               for i in range(3)})
    return root


def flite_clip(directory, sentence):
    """A flite-synthesised sentence at 16 kHz (flite writes 8 kHz; resampled), or a skip without flite."""
    import shutil
    import subprocess

    import pytest

    from emodubber.metrics.audio_io import load_audio

    if not shutil.which("flite"):
        pytest.skip("flite not installed")
    p = directory / "x.wav"
    subprocess.run(["flite", "-t", sentence, "-o", str(p)], check=True, capture_output=True)
    return load_audio(p, 16000, warn=False)

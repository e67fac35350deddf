"""Display helpers for the notebooks: audio and video players, mel images, a frame strip with phones.

Everything here draws or displays; nothing computes results. Matplotlib is imported lazily so
``import emodubber.viz`` is cheap; IPython is needed only by :func:`audio` and :func:`video`.
Mels follow the package contract: ``[n_mels, T]`` log-mel, 100 frames per second (hop 160 at 16 kHz).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["audio", "video", "to_numpy", "mel_hz", "draw_mel", "show_mel", "frame_strip", "phone_segments",
           "EMOTION_COLOURS"]

#: One colour per emotion, used by every figure (the article's t-SNE: angry blue, sad red, happy orange).
EMOTION_COLOURS: dict[str, str] = {
    "neutral": "#7f7f7f",
    "happy": "#ff7f0e",
    "sad": "#d62728",
    "surprised": "#2ca02c",
    "angry": "#1f77b4",
    "fearful": "#9467bd",
    "disgusted": "#8c564b",
}


def to_numpy(x: Any) -> np.ndarray:
    """A numpy array from a numpy array, list or (CPU/GPU, grad or not) torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def audio(wav: Any, sr: int = 16000, normalize: bool = True):
    """An IPython audio player for a 1-D waveform (numpy or torch), playable inline in Jupyter."""
    from IPython.display import Audio

    w = to_numpy(wav).astype(np.float32).reshape(-1)
    return Audio(data=w, rate=sr, normalize=normalize)


def video(path: str | Path, width: int = 320, embed: bool = True):
    """An IPython video player for an mp4 (embedded in the notebook by default, so it survives export)."""
    from IPython.display import Video

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no video at {path}")
    return Video(str(path), embed=embed, width=width, mimetype="video/mp4")


def _slaney_hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=float)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    lin = f / f_sp
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, lin)


def _slaney_mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=float)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_hz(n_mels: int = 80, f_min: float = 0.0, f_max: float = 8000.0) -> np.ndarray:
    """Centre frequency (Hz) of each mel bin on the Slaney mel scale (librosa's default, as the front end uses)."""
    edges = np.linspace(_slaney_hz_to_mel(f_min), _slaney_hz_to_mel(f_max), n_mels + 2)
    return _slaney_mel_to_hz(edges)[1:-1]


def draw_mel(ax, mel: Any, sr: int = 16000, hop: int = 160, f_min: float = 0.0, f_max: float = 8000.0,
             title: str | None = None, cmap: str = "magma", vmin: float | None = None, vmax: float | None = None,
             colorbar: bool = False):
    """Draw a ``[n_mels, T]`` log-mel on ``ax`` with time in seconds and frequency ticks in kHz.

    Returns the image (for a shared colour bar).
    """
    m = to_numpy(mel)
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2:
        raise ValueError(f"mel must be [n_mels, T], got shape {m.shape}")
    n_mels, T = m.shape
    dur = T * hop / sr
    im = ax.imshow(m, origin="lower", aspect="auto", cmap=cmap, extent=(0, dur, -0.5, n_mels - 0.5),
                   vmin=vmin, vmax=vmax, interpolation="nearest")
    hz = mel_hz(n_mels, f_min, f_max)
    ticks = [i for i in np.linspace(0, n_mels - 1, 5).round().astype(int)]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{hz[i] / 1000:.1f}" for i in ticks])
    ax.set_ylabel("frequency (kHz, mel scale)")
    ax.set_xlabel("time (s)")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="log-mel energy")
    return im


def show_mel(mel: Any, sr: int = 16000, hop: int = 160, title: str | None = None, figsize=(8, 3)):
    """A figure holding one mel image with a colour bar."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    draw_mel(ax, mel, sr, hop, title=title, colorbar=True)
    return fig


def phone_segments(phones: Any) -> list[tuple[str, float, float]]:
    """Normalise a phone alignment to ``[(phone, start_s, end_s), ...]``.

    Accepts such a list, or a DataFrame / list of dicts with ``phone``, ``start``, ``end`` (seconds).
    """
    if phones is None:
        return []
    if hasattr(phones, "to_dict"):
        phones = phones.to_dict("records")
    out = []
    for p in phones:
        if isinstance(p, dict):
            out.append((str(p["phone"]), float(p["start"]), float(p["end"])))
        else:
            ph, s, e = p
            out.append((str(ph), float(s), float(e)))
    return out


def frame_strip(frames: Any, phones: Any = None, fps: int = 25, max_frames: int = 12, title: str | None = None,
                figsize: tuple[float, float] | None = None):
    """Every k-th video frame in a row on a time axis, and the phone alignment under it.

    ``frames``: ``[F, H, W]`` grey or ``[F, H, W, 3]`` RGB (uint8 or float in [0, 1]). With
    F frames and ``max_frames`` shown, k = ceil(F / max_frames) and shown frame j covers
    [j·k/fps, (j+1)·k/fps) s, so the strip and the phones below share one time axis.
    """
    import matplotlib.pyplot as plt

    fr = to_numpy(frames)
    if fr.ndim not in (3, 4):
        raise ValueError(f"frames must be [F, H, W] or [F, H, W, 3], got {fr.shape}")
    F = fr.shape[0]
    k = max(1, int(np.ceil(F / max_frames)))
    idx = list(range(0, F, k))
    segs = phone_segments(phones)
    n_rows = 2 if segs else 1
    figsize = figsize or (max(6.0, 1.1 * len(idx)), 2.6 if segs else 1.8)
    fig, axes = plt.subplots(n_rows, 1, figsize=figsize, sharex=True, squeeze=False, constrained_layout=True,
                             gridspec_kw={"height_ratios": [3, 1][:n_rows]})
    ax = axes[0, 0]
    span = k / fps
    grey = fr.ndim == 3
    vmax = 255 if fr.dtype == np.uint8 else (1.0 if float(fr.max()) <= 1.0 else None)
    for j, i in enumerate(idx):
        img = fr[i]
        ax.imshow(img, cmap="gray" if grey else None, extent=(j * span, (j + 1) * span, 0, 1), aspect="auto",
                  vmin=0 if grey else None, vmax=vmax if grey else None)
        ax.text(j * span + 0.02 * span, 0.96, f"#{i}", color="yellow", fontsize=7, va="top")
        if j:
            ax.axvline(j * span, color="white", lw=1)
    ax.set_xlim(0, len(idx) * span)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_title(title or (f"video frames (all {F}, {fps} fps)" if k == 1 else
                          f"video frames #0, #{k}, #{2 * k}, … of {F} ({fps} fps)"))
    if segs:
        pax = axes[1, 0]
        for n, (ph, s, e) in enumerate(segs):
            pax.axvspan(s, e, ymin=0.1, ymax=0.9, color=("#dbe9f6" if n % 2 else "#f6e3cf"), ec="k", lw=0.5)
            pax.text((s + e) / 2, 0.5, ph, ha="center", va="center", fontsize=7, clip_on=True)
        pax.set_yticks([])
        pax.set_ylabel("phones", rotation=0, ha="right", va="center")
        pax.set_xlabel("time (s)")
    else:
        ax.set_xlabel("time (s)")
    return fig

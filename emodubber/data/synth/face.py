"""A rendered talking face for every synthetic dubbing clip (25 fps H.264 mp4: PyAV, or an ffmpeg pipe).

The mouth follows visemes of the aligned phones: each phone has targets for opening, width, rounding
and teeth (:data:`VISEMES`); a step signal of the targets at 1 ms is smoothed with a Gaussian (σ ≈ 22
ms, coarticulation across neighbours) and averaged over each video frame k = [40k, 40k + 40) ms.
Each speaker has a stable appearance (skin, face shape, hair, background, lips); each emotion an
expression (brows, eye opening, mouth corners, a disgust nose wrinkle) scaled by intensity; each
clip small head motion (translation, rotation, scale) and pixel noise, so nothing can be read off
pixel identity. The face is shaded like a face (dark eye sockets and brows, lighter forehead and
cheeks, a nose shadow) so OpenCV's Haar frontal-face cascade finds it, as it finds GRID speakers.
"""

from __future__ import annotations

import math
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emodubber.tools import require_binary, require_module
from emodubber.utils import atomic_path

__all__ = ["VISEMES", "Appearance", "appearance_for", "mouth_track", "render_frames", "write_mp4",
           "render_clip", "VideoError", "EXPRESSIONS"]


class VideoError(RuntimeError):
    """ffmpeg could not write a clip; the message names the file."""


#: phone → (opening, width, rounding, teeth), each in [0, 1].
VISEMES: dict[str, tuple[float, float, float, float]] = {
    "sil": (0.0, 0.45, 0.0, 0.0), "sp": (0.03, 0.45, 0.0, 0.0),
    "P": (0.0, 0.45, 0.1, 0.0), "B": (0.0, 0.45, 0.1, 0.0), "M": (0.0, 0.45, 0.1, 0.0),
    "F": (0.1, 0.5, 0.0, 1.0), "V": (0.1, 0.5, 0.0, 1.0),
    "TH": (0.2, 0.5, 0.0, 0.9), "DH": (0.2, 0.5, 0.0, 0.9),
    "T": (0.2, 0.55, 0.0, 0.7), "D": (0.2, 0.55, 0.0, 0.7), "N": (0.2, 0.55, 0.0, 0.6),
    "L": (0.28, 0.55, 0.0, 0.6), "S": (0.12, 0.6, 0.0, 0.9), "Z": (0.12, 0.6, 0.0, 0.9),
    "CH": (0.22, 0.35, 0.6, 0.7), "JH": (0.22, 0.35, 0.6, 0.7), "SH": (0.2, 0.35, 0.6, 0.7),
    "ZH": (0.2, 0.35, 0.6, 0.7),
    "K": (0.3, 0.5, 0.0, 0.3), "G": (0.3, 0.5, 0.0, 0.3), "NG": (0.25, 0.5, 0.0, 0.3),
    "HH": (0.4, 0.5, 0.0, 0.3), "Y": (0.2, 0.7, 0.0, 0.5), "R": (0.25, 0.35, 0.6, 0.2),
    "W": (0.12, 0.15, 1.0, 0.0),
    "AA": (1.0, 0.55, 0.0, 0.2), "AE": (0.8, 0.7, 0.0, 0.4), "AH": (0.6, 0.5, 0.0, 0.2),
    "AO": (0.8, 0.35, 0.6, 0.1), "AW": (0.8, 0.45, 0.4, 0.2), "AY": (0.85, 0.6, 0.0, 0.3),
    "EH": (0.55, 0.65, 0.0, 0.4), "ER": (0.35, 0.4, 0.5, 0.2), "EY": (0.5, 0.7, 0.0, 0.5),
    "IH": (0.35, 0.7, 0.0, 0.5), "IY": (0.25, 0.85, 0.0, 0.6), "OW": (0.55, 0.3, 0.8, 0.1),
    "OY": (0.6, 0.35, 0.6, 0.2), "UH": (0.35, 0.35, 0.7, 0.1), "UW": (0.25, 0.2, 1.0, 0.0),
}

#: emotion → (brow raise, brow inner tilt (+ inner up), eye opening, mouth-corner lift, mouth-opening
#: gain, nose wrinkle), at full intensity; neutral is all zero / gain 1.
EXPRESSIONS: dict[str, tuple[float, float, float, float, float, float]] = {
    "neutral": (0.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    "happy": (0.2, 0.0, -0.2, 1.0, 1.1, 0.0),
    "sad": (0.0, 1.0, -0.3, -0.8, 0.8, 0.0),
    "angry": (-0.8, -1.0, -0.35, -0.3, 1.15, 0.3),
    "surprised": (1.0, 0.2, 0.6, 0.0, 1.25, 0.0),
    "fearful": (0.7, 0.8, 0.45, -0.4, 1.0, 0.0),
    "disgusted": (-0.4, -0.3, -0.45, -0.7, 0.85, 1.0),
}


@dataclass(frozen=True)
class Appearance:
    """A speaker's stable look (colours BGR in 0..255, geometry in units of the frame side)."""

    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    background: tuple[float, float, float]
    lips: tuple[float, float, float]
    face_w: float  # half-width of the face ellipse
    face_h: float  # half-height
    eye_dx: float  # half-distance between the eyes
    mouth_w: float  # half-width of the neutral mouth
    hair_top: float  # how far the hair comes down the forehead


def appearance_for(speaker: str) -> Appearance:
    """Deterministic appearance of ``speaker`` (a CRC of its name seeds the draw)."""
    r = np.random.default_rng(zlib.crc32(speaker.encode()))
    tone = r.uniform(0.0, 1.0)  # light .. dark skin
    skin = tuple(float(c) for c in np.array([175, 195, 235]) * (1 - 0.55 * tone) + r.uniform(-8, 8, 3))
    hair = tuple(float(c) for c in r.uniform(15, 90) * np.array([1.0, 1.1, 1.25]))
    bg_hue = r.uniform(0, 1)
    bg = tuple(float(90 + 60 * math.sin(2 * math.pi * (bg_hue + k / 3))) for k in range(3))
    lips = tuple(float(c) for c in np.array(skin) * np.array([0.62, 0.55, 0.85]))
    return Appearance(skin=skin, hair=hair, background=bg, lips=lips, face_w=r.uniform(0.29, 0.34),
                      face_h=r.uniform(0.38, 0.43), eye_dx=r.uniform(0.12, 0.145), mouth_w=r.uniform(0.085, 0.105),
                      hair_top=r.uniform(0.2, 0.27))


def mouth_track(phones: list[str], spans: list[list[float]], n_frames: int, fps: int = 25,
                sigma_ms: float = 22.0) -> np.ndarray:
    """(n_frames, 4) opening, width, rounding, teeth per video frame, with coarticulation.

    Frame k averages the smoothed viseme targets over [k/fps, (k+1)/fps).
    """
    from scipy.ndimage import gaussian_filter1d

    n_ms = int(round(n_frames * 1000 / fps))
    tgt = np.tile(np.array(VISEMES["sil"], np.float32), (n_ms, 1))
    for p, (s, e) in zip(phones, spans):
        a, b = int(round(s * 1000)), int(round(e * 1000))
        tgt[max(a, 0):min(b, n_ms)] = VISEMES.get(p, VISEMES["AH"])
    smooth = gaussian_filter1d(tgt, sigma_ms, axis=0, mode="nearest")
    ms_per = 1000 // fps if 1000 % fps == 0 else 1000 / fps
    return np.stack([smooth[int(round(k * ms_per)):int(round((k + 1) * ms_per))].mean(0) for k in range(n_frames)])


def _c(a) -> tuple[float, ...]:
    """A colour as the tuple of Python floats OpenCV wants."""
    return tuple(float(x) for x in np.asarray(a, np.float64).ravel())


def _base_face(app: Appearance, size: int, rng: np.random.Generator) -> np.ndarray:
    """The static, shaded face of one speaker (float32 BGR, before mouth, brows and motion)."""
    cv2 = require_module("cv2", "the synthetic face renderer")
    S = size
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32) / S
    img = np.empty((S, S, 3), np.float32)  # built in float, rounded once per frame
    grad = 0.85 + 0.3 * yy[..., None]
    img[:] = np.array(app.background, np.float32) * grad
    img += rng.normal(0, 6, (S // 8 + 1, S // 8 + 1, 1)).repeat(8, 0).repeat(8, 1)[:S, :S]  # blotchy texture
    cx, cy = 0.5, 0.53
    P = lambda x, y: (int(round(x * S)), int(round(y * S)))  # noqa: E731
    L = lambda v: max(1, int(round(v * S)))  # noqa: E731
    skin = np.array(app.skin, np.float32)
    # neck and shoulders
    cv2.rectangle(img, P(cx - 0.13, cy + 0.3), P(cx + 0.13, 1.0), _c(skin * 0.75), -1)
    cv2.ellipse(img, P(cx, 1.08), (L(0.48), L(0.18)), 0, 0, 360, _c(np.array(app.background) * 0.45), -1)
    # hair behind the head
    cv2.ellipse(img, P(cx, cy - 0.06), (L(app.face_w + 0.03), L(app.face_h + 0.02)), 0, 180, 360, app.hair, -1)
    # the face, shaded: lighter forehead and cheeks, darker rim
    mask = np.zeros((S, S), np.float32)
    cv2.ellipse(mask, P(cx, cy), (L(app.face_w), L(app.face_h)), 0, 0, 360, 1.0, -1)
    r2 = ((xx - cx) / app.face_w) ** 2 + ((yy - cy) / app.face_h) ** 2
    shade = 1.08 - 0.35 * np.clip(r2, 0, 1) ** 1.5
    face = skin[None, None] * shade[..., None]
    img = img * (1 - mask[..., None]) + face * mask[..., None]
    # hairline over the forehead
    cv2.ellipse(img, P(cx, cy - app.face_h + app.hair_top * 0.5), (L(app.face_w * 0.98), L(app.hair_top * 0.55)),
                0, 180, 360, app.hair, -1)
    ey = cy - 0.09
    for sgn in (-1, 1):
        ex = cx + sgn * app.eye_dx
        # eye socket shadow, eye white, iris
        cv2.ellipse(img, P(ex, ey), (L(0.075), L(0.045)), 0, 0, 360, _c(skin * 0.55), -1)
        cv2.ellipse(img, P(ex, ey + 0.005), (L(0.045), L(0.018)), 0, 0, 360, (225, 225, 230), -1)
        cv2.circle(img, P(ex, ey + 0.005), L(0.016), (40, 35, 30), -1)
        # cheek highlight
        cv2.ellipse(img, P(cx + sgn * 0.15, cy + 0.04), (L(0.07), L(0.05)), 0, 0, 360,
                    _c(np.minimum(skin * 1.1, 255)), -1)
    # nose: shadow on one side, bright ridge, nostrils
    cv2.line(img, P(cx - 0.025, ey + 0.03), P(cx - 0.035, cy + 0.06), _c(skin * 0.65), L(0.018), cv2.LINE_AA)
    cv2.line(img, P(cx + 0.005, ey + 0.03), P(cx + 0.005, cy + 0.05), _c(np.minimum(skin * 1.12, 255)), L(0.012))
    cv2.ellipse(img, P(cx, cy + 0.075), (L(0.05), L(0.022)), 0, 0, 360, _c(skin * 0.72), -1)
    for sgn in (-1, 1):
        cv2.ellipse(img, P(cx + sgn * 0.022, cy + 0.08), (L(0.012), L(0.007)), 0, 0, 360, _c(skin * 0.35), -1)
    # chin shadow
    cv2.ellipse(img, P(cx, cy + 0.3), (L(0.09), L(0.03)), 0, 200, 340, _c(skin * 0.75), L(0.012))
    return img


def _draw_dynamic(img: np.ndarray, app: Appearance, mouth: np.ndarray, expr: np.ndarray, size: int) -> None:
    """Brows, eyelids and the mouth of one frame, drawn in place."""
    cv2 = require_module("cv2", "the synthetic face renderer")
    S = size
    brow_raise, inner_tilt, eye_open, corner, _, wrinkle = expr
    cx, cy = 0.5, 0.53
    ey = cy - 0.09
    skin = np.array(app.skin, np.float32)
    P = lambda x, y: (int(round(x * S)), int(round(y * S)))  # noqa: E731
    L = lambda v: max(1, int(round(v * S)))  # noqa: E731
    for sgn in (-1, 1):
        ex = cx + sgn * app.eye_dx
        by = ey - 0.06 - 0.025 * brow_raise
        inner = (ex - sgn * 0.05, by - 0.02 * inner_tilt)
        outer = (ex + sgn * 0.055, by + 0.005)
        cv2.line(img, P(*inner), P(*outer), _c(np.array(app.hair) * 0.8), L(0.022), cv2.LINE_AA)
        # upper eyelid: lower it when the eye narrows, lift the socket when it widens
        lid = 0.018 * (1 - eye_open) if eye_open < 0 else 0.0
        if lid > 0:
            cv2.ellipse(img, P(ex, ey - 0.012 + lid), (L(0.05), L(0.02)), 0, 180, 360, _c(skin * 0.8), -1)
        elif eye_open > 0:
            cv2.ellipse(img, P(ex, ey + 0.005), (L(0.046), L(0.018 + 0.012 * eye_open)), 0, 180, 360, (225, 225, 230),
                        -1)
            cv2.circle(img, P(ex, ey + 0.005), L(0.016), (40, 35, 30), -1)
    if wrinkle > 0:
        for sgn in (-1, 1):
            cv2.line(img, P(cx + sgn * 0.02, ey + 0.02), P(cx + sgn * 0.045, ey + 0.05), _c(skin * (1 - 0.3 * wrinkle)),
                     L(0.008), cv2.LINE_AA)
    opening, width, rounding, teeth = mouth
    my = cy + 0.19
    hw = app.mouth_w * (0.8 + 0.45 * width - 0.35 * rounding)
    hh = 0.004 + 0.06 * opening * (1 + 0.3 * rounding)
    lip = 0.016 + 0.008 * rounding
    xs = np.linspace(-1, 1, 25)
    bend = np.sqrt(np.clip(1 - xs ** 2, 0, 1)) ** (1 - 0.5 * rounding)
    lift = -0.022 * corner * xs ** 2  # corners up for positive ``corner``
    upper_out = np.stack([cx + hw * xs * 1.08, my - (hh + lip) * bend + lift], 1)
    lower_out = np.stack([cx + hw * xs[::-1] * 1.08, my + (hh + lip * 1.2) * bend[::-1] + lift[::-1]], 1)
    outer = (np.concatenate([upper_out, lower_out]) * S).astype(np.int32)
    cv2.fillPoly(img, [outer], app.lips, cv2.LINE_AA)
    if opening > 0.03:
        upper_in = np.stack([cx + hw * xs, my - hh * bend + lift], 1)
        lower_in = np.stack([cx + hw * xs[::-1], my + hh * bend[::-1] + lift[::-1]], 1)
        inner = (np.concatenate([upper_in, lower_in]) * S).astype(np.int32)
        cv2.fillPoly(img, [inner], (30, 20, 35), cv2.LINE_AA)
        if teeth > 0.05:
            th = min(2 * hh, 0.012 + 0.02 * teeth)
            x0, x1 = cx - hw * 0.6, cx + hw * 0.6
            cv2.rectangle(img, P(x0, my - hh + lift[12] * 0), P(x1, my - hh + th), (215, 220, 225), -1)
    else:
        cv2.polylines(img, [(np.stack([cx + hw * xs, my + lift], 1) * S).astype(np.int32)], False,
                      _c(np.array(app.lips) * 0.5), L(0.008), cv2.LINE_AA)


def render_frames(track: np.ndarray, speaker: str, emotion: str = "neutral", intensity: float = 0.0,
                  size: int = 128, seed: int = 0) -> np.ndarray:
    """(F, size, size, 3) uint8 BGR frames of ``speaker`` saying the mouth ``track`` (see :func:`mouth_track`)."""
    cv2 = require_module("cv2", "the synthetic face renderer")
    rng = np.random.default_rng(seed)
    app = appearance_for(speaker)
    base = _base_face(app, size, rng)
    neutral = np.array(EXPRESSIONS["neutral"], np.float32)
    expr = neutral + (np.array(EXPRESSIONS.get(emotion, EXPRESSIONS["neutral"]), np.float32) - neutral) * intensity
    n = len(track)
    t = np.arange(n) / 25.0
    # head motion: slow random sinusoids (px, degrees, scale), plus a small per-clip offset
    ph = rng.uniform(0, 2 * math.pi, 4)
    fr = rng.uniform(0.2, 0.7, 4)
    dx = size * (0.012 * np.sin(2 * math.pi * fr[0] * t + ph[0]) + rng.uniform(-0.02, 0.02))
    dy = size * (0.010 * np.sin(2 * math.pi * fr[1] * t + ph[1]) + rng.uniform(-0.02, 0.02))
    rot = 2.0 * np.sin(2 * math.pi * fr[2] * t + ph[2])
    scale = 1.0 + 0.02 * np.sin(2 * math.pi * fr[3] * t + ph[3]) + rng.uniform(-0.04, 0.04)
    brightness = rng.uniform(0.85, 1.12)
    gain = expr[4]
    out = np.empty((n, size, size, 3), np.uint8)
    noise = rng.standard_normal((n, size, size, 3), dtype=np.float32)
    noise *= 3.0
    for k in range(n):
        img = base.copy()
        m = track[k].copy()
        m[0] = min(1.0, m[0] * gain)
        _draw_dynamic(img, app, m, expr, size)
        M = cv2.getRotationMatrix2D((size / 2, size * 0.6), float(rot[k]), float(scale[k]))
        M[:, 2] += (dx[k], dy[k])
        img = cv2.warpAffine(img, M, (size, size), borderMode=cv2.BORDER_REFLECT)
        img = cv2.GaussianBlur(img, (3, 3), 0.6)
        img *= brightness
        img += noise[k]
        np.clip(img, 0, 255, out=img)
        out[k] = img
    return out


def write_mp4(frames: np.ndarray, path: str | Path, fps: int = 25, crf: int = 18) -> Path:
    """Encode BGR uint8 frames as H.264 yuv420p mp4 (even sides).

    In process through PyAV's libx264 when ``av`` is installed (no ffmpeg start-up per clip: about half the
    cost of a 3-s clip), else through an ffmpeg pipe; the same codec, preset and quality either way.
    """
    path = Path(path)
    n, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise VideoError(f"{path}: frame size {w}x{h} must be even for yuv420p")
    try:
        import av
    except ImportError:
        av = None
    with atomic_path(path) as tmp:  # a failed or interrupted encode leaves no half-written clip
        if av is None:
            _write_mp4_ffmpeg(frames, tmp, fps, crf, name=path)
            return path
        try:
            with av.open(str(tmp), "w", format="mp4") as out:
                stream = out.add_stream("libx264", rate=fps)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                stream.options = {"crf": str(crf), "preset": "veryfast"}
                stream.codec_context.thread_count = 1
                for frame in np.ascontiguousarray(frames):
                    out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
                out.mux(stream.encode())
        except (av.FFmpegError, OSError) as e:
            raise VideoError(f"could not write {path}: {e}") from None
    return path


def _write_mp4_ffmpeg(frames: np.ndarray, path: Path, fps: int, crf: int, name: Path) -> None:
    """The same encode through an ffmpeg pipe (when PyAV is not installed); ``name`` is the clip named in errors."""
    ffmpeg = require_binary("ffmpeg")
    _, h, w, _ = frames.shape
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
           "-pix_fmt", "yuv420p", "-threads", "1", "-f", "mp4", str(path)]
    proc = subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise VideoError(f"ffmpeg could not write {name}: {proc.stderr.decode(errors='replace').strip()[:300]}")


def render_clip(path: str | Path, phones: list[str], spans: list[list[float]], n_frames: int, speaker: str,
                emotion: str = "neutral", intensity: float = 0.0, size: int = 128, seed: int = 0,
                fps: int = 25) -> np.ndarray:
    """Render and write one clip's video; returns its mouth track (n_frames, 4)."""
    track = mouth_track(phones, spans, n_frames, fps=fps)
    frames = render_frames(track, speaker, emotion, intensity, size=size, seed=seed)
    write_mp4(frames, path, fps=fps)
    return track

"""LSE-C / LSE-D judge: syncnet-python's SyncNet network ``S`` and its offset scoring.

What is measured (names used in every table):

- ``lse_d``  — LSE-D, the minimum over offsets (±``vshift`` video frames) of the mean distance between the
  video and audio embeddings (lower is better);
- ``lse_c``  — LSE-C, the confidence: median minus minimum of that mean-distance curve (higher is better);
- ``av_offset`` — the offset of the minimum, in video frames, with syncnet-python's sign: audio that lags the
  video by ``d`` frames gives ``av_offset = -d`` (:func:`emodubber.metrics.syncnet.expected_av_offset`);
- ``sync_dist_at0`` / ``sync_conf_at0`` — distance and confidence at offset 0. LSE-C/D search over offsets
  and so forgive a constant shift; these do not (measured: audio 5 frames late takes LSE-C from 5.70 to 5.37 but the
  zero-offset confidence from 5.70 to 0.08).

The scoring (:func:`sync_scores`) is syncnet-python's own: its ``calc_pdist`` and the min / median
formulas of ``SyncNetInstance.evaluate``; the network is its ``SyncNetModel.S`` (224×224 BGR face crops,
5-frame windows; 13×20 MFCC windows from ``python_speech_features.mfcc`` on 16-bit audio).

Weights (:meth:`SyncJudge.from_config`): the official ``syncnet_v2.model`` when ``judges.syncnet_weights``
names it (its SHA-256 checked against ``judges.syncnet_sha256`` when that is set), else the sync expert
trained here by :func:`emodubber.metrics.sync_expert.train_sync_expert` on the synthetic train split. The
weights' SHA-256 and a label go beside every number.

Faces: the official pipeline detects faces with S3FD (weights not shipped). ``face_crop="frame"`` uses the
whole frame (the synthetic corpus renders one centred face, like pre-cropped GRID/LRS clips); ``"haar"`` finds
the face with OpenCV's Haar cascade and crops as the pipeline does (``crop_scale`` 0.4). A clip with no face
(no detection, or blank frames) gives NaN with the reason.

The video side is the same for every row of every table: :meth:`SyncJudge.video_embeddings` computes it
once per (video content, weights, crop) and caches it in memory and on disk (``cache_dir``).

The network and its inputs live in :mod:`emodubber.metrics.syncnet` (shared with the training in
``sync_expert``); video files go through :mod:`emodubber.media`. torch and soundfile are imported inside the
methods that use them, so importing ``emodubber.metrics`` stays fast (start-up time of the CLI).
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emodubber.media import extract_audio, mux, read_video
from emodubber.metrics.audio_io import AudioInput, load_audio, package_version, sha256_file
from emodubber.metrics.syncnet import (
    SAMPLES_PER_FRAME,
    face_crops,
    mfcc_features,
    sync_expert_path,
    syncnet_backend,
)
from emodubber.utils import atomic_path

__all__ = ["SyncJudge", "SyncResult", "sync_scores", "mux_audio", "LSE_COLUMNS", "SyncWeightsError",
           "LSE_AAC_BITRATE"]

#: AAC bitrate of the muxed clip the paper's pipeline scores (:func:`mux_audio`).
LSE_AAC_BITRATE = "192k"
LSE_COLUMNS = ("lse_c", "lse_d", "av_offset", "sync_dist_at0", "sync_conf_at0")


class SyncWeightsError(ValueError):
    """SyncNet weights that are missing, do not match the expected hash or do not fit ``S``."""


def mux_audio(video: str | Path, wav: str | Path, out: str | Path) -> Path:
    """Put ``wav`` on ``video``'s picture (stream copy; AAC at :data:`LSE_AAC_BITRATE`) as the paper's pipeline
    does before scoring (:func:`emodubber.media.mux`)."""
    return mux(video, wav, out, bitrate=LSE_AAC_BITRATE)


# ------------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------------


def sync_scores(video_feats: Any, audio_feats: Any, vshift: int = 15) -> dict[str, float]:
    """syncnet-python's offset search on per-window embeddings (both ``(n_windows, d)``).

    Windows are paired in order and truncated to the shorter side (as ``evaluate`` does with
    ``min_length``). Returns ``lse_c, lse_d, av_offset, sync_dist_at0, sync_conf_at0`` and ``n_windows``.
    """
    import torch

    _, calc_pdist, _ = syncnet_backend()
    v = torch.as_tensor(np.asarray(video_feats), dtype=torch.float32)
    a = torch.as_tensor(np.asarray(audio_feats), dtype=torch.float32)
    n = min(len(v), len(a))
    if n < 1:
        return {"lse_c": math.nan, "lse_d": math.nan, "av_offset": math.nan, "sync_dist_at0": math.nan,
                "sync_conf_at0": math.nan, "n_windows": 0}
    dists = calc_pdist(v[:n], a[:n], vshift=vshift)
    mdist = torch.mean(torch.stack(dists, 1), 1)
    minval, minidx = torch.min(mdist, 0)
    med = torch.median(mdist)
    return {
        "lse_c": float(med - minval),
        "lse_d": float(minval),
        "av_offset": int(vshift - int(minidx)),
        "sync_dist_at0": float(mdist[vshift]),
        "sync_conf_at0": float(med - mdist[vshift]),
        "n_windows": int(n),
    }


@dataclass
class SyncResult:
    """One clip's sync scores; NaN everywhere with ``error`` set when the clip could not be scored."""

    lse_c: float = math.nan
    lse_d: float = math.nan
    av_offset: float = math.nan
    sync_dist_at0: float = math.nan
    sync_conf_at0: float = math.nan
    n_windows: int = 0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class SyncJudge:
    """SyncNet ``S`` with fixed weights on CPU; caches video embeddings per clip.

    label:          ``"official syncnet_v2.model"`` or ``"sync expert trained here"``
    weights_sha256: SHA-256 of the weight file (reported beside every number)
    """

    def __init__(self, weights: str | Path, label: str = "", vshift: int = 15, face_crop: str = "frame",
                 cache_dir: str | Path | None = None, batch_size: int = 20, expected_sha256: str = "",
                 device: str = "cpu"):
        import torch

        if face_crop not in ("frame", "haar"):
            raise ValueError(f"judges.face_crop must be 'frame' or 'haar', not {face_crop!r}")
        S, _, _ = syncnet_backend()
        weights = Path(weights)
        if not weights.exists():
            raise FileNotFoundError(f"SyncNet weights {weights} do not exist")
        self.weights_path = weights
        self.weights_sha256 = sha256_file(weights)
        if expected_sha256 and expected_sha256.lower() != self.weights_sha256:
            raise SyncWeightsError(f"{weights}: SHA-256 {self.weights_sha256} differs from the expected "
                                   f"{expected_sha256} (judges.syncnet_sha256)")
        self.verified = bool(expected_sha256)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            self.meta = {k: v for k, v in state.items() if k != "state_dict"}
            state = state["state_dict"]
        else:
            self.meta = {}
        self.net = S()
        try:
            self.net.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise SyncWeightsError(f"{weights} does not fit syncnet-python's S: {str(e)[:300]}") from None
        self.net.eval().to(device)
        self.device = device
        self.label = label or self.meta.get("label", "syncnet weights")
        self.vshift = vshift
        self.face_crop = face_crop
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._mem: dict[str, tuple[np.ndarray | None, str]] = {}

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg, **kwargs) -> "SyncJudge":
        """Official weights if ``cfg.judges.syncnet_weights`` is set, else the expert trained here."""
        j = cfg.judges
        cache = cfg.work_dir / "judges" / "lse_cache"
        common = dict(vshift=j.vshift, face_crop=j.face_crop, cache_dir=cache, batch_size=j.syncnet_batch)
        common.update(kwargs)
        if j.syncnet_weights:
            return cls(j.syncnet_weights, label="official syncnet_v2.model", expected_sha256=j.syncnet_sha256,
                       **common)
        path = sync_expert_path(cfg)
        if not path.exists():
            raise FileNotFoundError(f"no SyncNet weights: set judges.syncnet_weights to the official "
                                    f"syncnet_v2.model or train the sync expert first ({path}; notebooks/07_judges)")
        return cls(path, label="sync expert trained here", **common)

    @property
    def settings(self) -> dict:
        v = package_version("syncnet-python")
        return {"judge": f"syncnet-python {v} (S + calc_pdist scoring)", "weights": self.label,
                "weights_path": str(self.weights_path), "weights_sha256": self.weights_sha256,
                "sha256_verified": self.verified, "vshift": self.vshift, "face_crop": self.face_crop,
                "lse_c": "median - min of the mean distance over offsets", "lse_d": "min mean distance"}

    # ---- embeddings ------------------------------------------------------------------------
    def _embed_video_frames(self, crops: np.ndarray) -> np.ndarray:
        """Lip embeddings of every 5-frame window: ``(n_frames - 4, 1024)``."""
        import torch

        n_win = len(crops) - 4
        out = []
        with torch.inference_mode():
            x = torch.from_numpy(crops).permute(3, 0, 1, 2).float()  # (3, n, 224, 224) BGR 0..255
            for i in range(0, n_win, self.batch_size):
                batch = torch.stack([x[:, k:k + 5] for k in range(i, min(n_win, i + self.batch_size))])
                out.append(self.net.forward_lip(batch.to(self.device)).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, 1024), np.float32)

    def embed_audio(self, wav: np.ndarray, sr: int = 16000) -> np.ndarray:
        """Audio embeddings of every 20-MFCC (4-frame hop) window: ``(floor(len/640) - 4, 1024)``."""
        import torch

        mfcc = mfcc_features(wav, sr)
        n_win = min(len(wav) // SAMPLES_PER_FRAME - 4, (mfcc.shape[1] - 20) // 4 + 1)
        if n_win < 1:
            return np.zeros((0, 1024), np.float32)
        cc = torch.from_numpy(mfcc)[None]  # (1, 13, T)
        with torch.inference_mode():
            batch = torch.stack([cc[:, :, 4 * k:4 * k + 20] for k in range(n_win)])
            out = [self.net.forward_aud(batch[i:i + 200].to(self.device)).cpu() for i in range(0, n_win, 200)]
        return torch.cat(out).numpy()

    def _cache_key(self, video: Path) -> str:
        h = hashlib.sha256(video.read_bytes()).hexdigest()[:20]
        return f"{h}_{self.weights_sha256[:12]}_{self.face_crop}"

    def video_embeddings(self, video: str | Path) -> tuple[np.ndarray | None, str]:
        """(lip embeddings ``(n_frames - 4, 1024)`` or None, reason), cached in memory and on disk."""
        video = Path(video)
        if not video.exists():
            return None, f"missing video {video.name}"
        key = self._cache_key(video)
        if key in self._mem:
            return self._mem[key]
        f = self.cache_dir / f"{key}.npz" if self.cache_dir else None
        if f is not None and f.exists():
            d = np.load(f, allow_pickle=False)
            res = (d["emb"] if d["emb"].size else None, str(d["reason"]))
            self._mem[key] = res
            return res
        frames, fps = read_video(video, strict=False)
        reason = ""
        emb = None
        if fps and abs(fps - 25.0) > 0.01:
            reason = f"video at {fps:g} fps, SyncNet needs 25"
        else:
            crops, reason = face_crops(frames, self.face_crop)
            if crops is not None:
                if len(crops) < 6:
                    reason = f"video too short ({len(crops)} frames)"
                else:
                    emb = self._embed_video_frames(crops)
        res = (emb, reason)
        self._mem[key] = res
        if f is not None:
            with atomic_path(f) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, emb=emb if emb is not None else np.zeros(0, np.float32), reason=np.array(reason))
        return res

    # ---- scoring ---------------------------------------------------------------------------
    def score(self, video: str | Path, audio: AudioInput | str | Path | np.ndarray) -> SyncResult:
        """Sync scores of ``audio`` against ``video``'s picture (no muxing: see :meth:`score_generated`)."""
        emb, reason = self.video_embeddings(video)
        if emb is None:
            return SyncResult(error=reason)
        if not isinstance(audio, AudioInput):
            audio = load_audio(audio, 16000)
        if not audio.ok:
            return SyncResult(error=f"audio: {audio.reason}")
        a = self.embed_audio(audio.wav, audio.sr)
        # SyncNetInstance.evaluate scores min(n_frames, floor(len/640)) - 5 windows
        n = min(len(emb) + 4, len(audio.wav) // SAMPLES_PER_FRAME) - 5
        if n < 1:
            return SyncResult(error="clip too short for SyncNet")
        return SyncResult(**sync_scores(emb[:n], a[:n], self.vshift))

    def score_generated(self, video: str | Path, wav: str | Path, workdir: str | Path | None = None) -> SyncResult:
        """The paper's pipeline: mux ``wav`` onto ``video`` (ffmpeg), read the audio back from the mp4, score.

        The picture is stream-copied, so the cached embeddings of ``video`` are those of the muxed file.
        """
        audio = load_audio(wav, 16000, warn=False)
        if not audio.ok:
            return SyncResult(error=f"audio: {audio.reason}")
        if not Path(video).exists():
            return SyncResult(error=f"missing video {Path(video).name}")
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            src = Path(wav)
            if audio.issues:  # resampled / mixed: hand ffmpeg the 16 kHz mono version
                import soundfile as sf

                src = Path(tmp) / "in.wav"
                sf.write(src, audio.wav, 16000)
            try:
                muxed = mux_audio(video, src, Path(tmp) / "muxed.mp4")
                back = extract_audio(muxed, Path(tmp) / "audio.wav")
            except RuntimeError as e:
                warnings.warn(str(e), stacklevel=2)
                return SyncResult(error="ffmpeg failed")
            return self.score(video, back)

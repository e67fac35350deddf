"""Signal processing of one clip: STFT, log-mel, WORLD F0 and envelope, phone means, speaker embeddings.

The audio front end of ``docs/paper.md`` §B.2 (16 kHz, hop 160 = 10 ms, 80 slaney mel bands): per clip of N
samples, T = N // hop frames.

==========================  =========================================================================
function                    output
==========================  =========================================================================
:func:`stft_magnitude`      |STFT| ``float32 [n_fft/2 + 1, T]``
:func:`log_mel`             log-mel ``float32 [n_mels, T]`` (not normalised)
:func:`world_f0`            F0 ``[N_world]`` in Hz (0 = unvoiced) and frame times (pyworld DIO + StoneMask)
:func:`frame_f0`            F0 per mel frame ``[T]``
:func:`envelope_log_mel`    log-mel of WORLD's F0-adaptive envelope (CheapTrick) ``float32 [n_mels, T]``
:func:`phone_means`         per-phone mean of frame values ``float32 [P]`` (phone-level pitch / energy)
:func:`speaker_embeddings`  resemblyzer (GE2E) utterance embeddings S_id ``float32 [N, 256]``
==========================  =========================================================================

The caching pipeline that stores them per clip is :mod:`emodubber.data.features`. torch, librosa, soundfile,
pyworld and resemblyzer are imported inside the functions that use them (start-up time: the dataset and the
CLI import this module without them).
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from emodubber.config import AudioConfig
from emodubber.tools import require_module

__all__ = ["ClipSkipped", "stft_magnitude", "log_mel", "world_f0", "frame_f0", "envelope_log_mel", "phone_means",
           "speaker_embeddings", "read_wav"]


class ClipSkipped(ValueError):
    """A clip that cannot be used (unreadable, too short, no face); the reason is logged and counted."""


# ------------------------------------------------------------------------------------------------
# Audio front end (docs/paper.md §B.2)
# ------------------------------------------------------------------------------------------------


def stft_magnitude(wav: np.ndarray, a: AudioConfig) -> np.ndarray:
    """|STFT| ``float32 [n_fft/2+1, len(wav)//hop]``: reflect pad (n_fft−hop)/2, center=False, Hann window,
    magnitude √(re² + im² + 1e-9), as the official ``utils/audio.py``."""
    import torch

    x = torch.as_tensor(np.asarray(wav, dtype=np.float32))[None, None]
    pad = (a.n_fft - a.hop_length) // 2
    if x.shape[-1] <= pad:
        raise ClipSkipped(f"audio of {x.shape[-1]} samples is too short for an STFT")
    x = torch.nn.functional.pad(x, (pad, pad), mode="reflect")[0, 0]
    spec = torch.stft(x, a.n_fft, hop_length=a.hop_length, win_length=a.win_length,
                      window=torch.hann_window(a.win_length), center=False, return_complex=True)
    return torch.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-9).numpy()


def _mel_basis(a: AudioConfig) -> np.ndarray:
    import librosa

    key = (a.sample_rate, a.n_fft, a.n_mels, a.f_min, a.f_max)
    if key not in _MEL_CACHE:
        _MEL_CACHE[key] = librosa.filters.mel(sr=a.sample_rate, n_fft=a.n_fft, n_mels=a.n_mels, fmin=a.f_min,
                                              fmax=a.f_max, htk=False, norm="slaney").astype(np.float32)
    return _MEL_CACHE[key]


_MEL_CACHE: dict = {}


def log_mel(wav: np.ndarray, a: AudioConfig, magnitude: np.ndarray | None = None) -> np.ndarray:
    """Log-mel ``float32 [n_mels, len(wav)//hop]``: slaney mel of :func:`stft_magnitude`, log(clamp(·, 1e-5))."""
    mag = stft_magnitude(wav, a) if magnitude is None else magnitude
    return np.log(np.maximum(_mel_basis(a) @ mag, 1e-5)).astype(np.float32)


def phone_means(values: np.ndarray, durations: np.ndarray, valid: np.ndarray | None = None,
                fallback: np.ndarray | None = None) -> np.ndarray:
    """Mean of frame ``values [T]`` inside each phone; with ``valid`` only over valid frames, using
    ``fallback`` (per frame) for a phone without any valid frame."""
    out = np.zeros(len(durations), dtype=np.float32)
    start = 0
    for p, d in enumerate(durations):
        seg = slice(start, start + int(d))
        v = values[seg]
        if valid is not None:
            m = valid[seg]
            v = v[m] if m.any() else (fallback[seg] if fallback is not None else v)
        out[p] = float(v.mean()) if len(v) else 0.0
        start += int(d)
    return out


def world_f0(wav: np.ndarray, sr: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """(F0 ``float64 [N]`` in Hz, 0 = unvoiced; frame times ``[N]`` in s): pyworld DIO + StoneMask every hop."""
    pw = require_module("pyworld", "phoneme-level pitch")
    x = np.ascontiguousarray(wav, dtype=np.float64)
    f0, t = pw.dio(x, sr, f0_floor=60.0, f0_ceil=600.0, frame_period=1000.0 * hop / sr)
    return pw.stonemask(x, f0, t, sr), t


def frame_f0(wav: np.ndarray, sr: int, hop: int, n_frames: int) -> np.ndarray:
    """F0 per mel frame ``float [T]`` in Hz (0 = unvoiced): pyworld DIO + StoneMask at the hop's period."""
    f0, _ = world_f0(wav, sr, hop)
    if len(f0) < n_frames:
        f0 = np.pad(f0, (0, n_frames - len(f0)))
    return f0[:n_frames]


def envelope_log_mel(wav: np.ndarray, a: AudioConfig, n_frames: int,
                     f0_t: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Log-mel of WORLD's F0-adaptive spectral envelope (CheapTrick) ``float32 [n_mels, n_frames]``.

    The STFT log-mel of :func:`log_mel` resolves the harmonics below ~1 kHz, so it carries the absolute F0;
    CheapTrick's envelope does not (it is smoothed over one pitch period). Same slaney mel scale and log floor
    as :func:`log_mel`, on the envelope's magnitude; ``f0_t`` = :func:`world_f0`'s output, if already computed.
    """
    pw = require_module("pyworld", "spectral envelopes")
    f0, t = world_f0(wav, a.sample_rate, a.hop_length) if f0_t is None else f0_t
    fft_size = pw.get_cheaptrick_fft_size(a.sample_rate, 60.0)
    sp = pw.cheaptrick(np.ascontiguousarray(wav, dtype=np.float64), f0, t, a.sample_rate, f0_floor=60.0,
                       fft_size=fft_size)  # power, [N, fft_size/2 + 1]
    basis = _mel_basis(dataclasses.replace(a, n_fft=fft_size, win_length=fft_size))
    mel = np.log(np.maximum(basis @ np.sqrt(sp.T), 1e-5)).astype(np.float32)
    if mel.shape[1] < n_frames:
        mel = np.pad(mel, ((0, 0), (0, n_frames - mel.shape[1])), mode="edge")
    return mel[:, :n_frames]


# ------------------------------------------------------------------------------------------------
# Speaker embeddings (resemblyzer, batched over partial utterances)
# ------------------------------------------------------------------------------------------------

_ENCODER = None


def _voice_encoder():
    global _ENCODER
    if _ENCODER is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rz = require_module("resemblyzer", "speaker embeddings")
        _ENCODER = rz.VoiceEncoder("cpu", verbose=False)
    return _ENCODER


def speaker_embeddings(wavs: Sequence[np.ndarray], sr: int) -> np.ndarray:
    """Resemblyzer utterance embeddings ``float32 [N, 256]`` (L2-normalised), all partials in one forward.

    Same result as ``VoiceEncoder.embed_utterance(preprocess_wav(w, sr))`` per clip."""
    import torch

    enc = _voice_encoder()
    from resemblyzer import audio as rz_audio
    from resemblyzer import preprocess_wav

    mels, owners = [], []
    for i, w in enumerate(wavs):
        x = preprocess_wav(np.asarray(w, dtype=np.float32), source_sr=sr)
        if len(x) < 1600:  # VAD removed (almost) everything: fall back to the raw, resampled clip
            import librosa

            x = librosa.resample(np.asarray(w, dtype=np.float32), orig_sr=sr, target_sr=rz_audio.sampling_rate)
        wav_slices, mel_slices = enc.compute_partial_slices(len(x), rate=1.3, min_coverage=0.75)
        if wav_slices[-1].stop >= len(x):
            x = np.pad(x, (0, wav_slices[-1].stop - len(x)))
        m = rz_audio.wav_to_mel_spectrogram(x)
        for s in mel_slices:
            mels.append(m[s])
            owners.append(i)
    with torch.no_grad():
        partial = enc(torch.from_numpy(np.stack(mels)).to(enc.device)).cpu().numpy()
    owners = np.asarray(owners)
    out = np.zeros((len(wavs), partial.shape[1]), dtype=np.float32)
    for i in range(len(wavs)):
        e = partial[owners == i].mean(0)
        out[i] = e / np.linalg.norm(e)
    return out


def read_wav(path: Path, sr: int) -> np.ndarray:
    """Mono ``float32 [N]`` at ``sr`` (channels averaged, resampled); :class:`ClipSkipped` if unreadable."""
    import soundfile as sf

    try:
        wav, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as e:
        raise ClipSkipped(f"audio {path} is unreadable ({e})") from None
    wav = wav.mean(1)
    if file_sr != sr:
        import librosa

        wav = librosa.resample(wav, orig_sr=file_sr, target_sr=sr)
    return wav

"""The seven acted emotions of the embedded corpus as documented acoustic recipes.

Each :class:`Recipe` moves what the literature on vocal emotion (Scherer 2003; Banse & Scherer 1996)
reports for the emotion, relative to the same speaker's neutral speech:

=========  ========  =======  ======  ======  ======  ===============  ===========================
emotion    F0 level  F0 range  rate    energy  tilt    contour          voice quality
=========  ========  =======  ======  ======  ======  ===============  ===========================
neutral    1.00      1.00     1.00    0 dB    0 dB    declination      modal
happy      ×1.25     ×1.7     faster  +3 dB   +3 dB   slight rise      modal
sad        ×0.84     ×0.45    slower  −7 dB   −6 dB   falling          breathy
angry      ×1.12     ×1.5     faster  +8 dB   +7 dB   falling          harsh (jitter 0.5 st)
surprised  ×1.40     ×1.9     ≈       +3 dB   +2 dB   strong final rise modal
fearful    ×1.30     ×0.8     faster  −2 dB   −1 dB   flat             7 Hz tremor, jitter, breathy
disgusted  ×0.90     ×0.8     slower  −1 dB   −3 dB   falling          creaky (jitter 1 st)
=========  ========  =======  ======  ======  ======  ===============  ===========================

Rate uses flite's own ``duration_stretch`` so the phone alignment stays exact; F0 level uses flite's
``int_f0_target_mean`` (or WORLD for voices that ignore it); F0 range (flite's stddev control is weak
for its clustergen voices), contour, tremor, jitter,
breathiness and the speaker's vocal-tract warp are applied with WORLD (pyworld) analysis/synthesis,
which keeps the time axis; tilt is a high-shelf mix and energy a gain on a fixed loudness reference.
Every clip (neutral too) goes through the same WORLD pass so no emotion can be told by vocoder traces.
Jitter is a per-10-ms-frame F0 perturbation; at 0.4 st (the first table) the judge's F0 track barely saw it
(median frame-to-frame change 0.23 st for disgusted against 0.17 st for neutral, awb): disgusted now has 1 st,
angry 0.5 st. Intensity α ∈ [0, 1] interpolates each parameter from neutral (α = 0) to the full recipe (α = 1):
linear in dB, semitones and log-ratios.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from emodubber.config import EMOTIONS
from emodubber.data.synth.voices import SAMPLE_RATE, SynthError, Voice, flite_say, get_voice
from emodubber.tools import require_module
from emodubber.utils import warp_axis

__all__ = ["Recipe", "RECIPES", "recipe_for", "speak", "world_transform", "apply_tilt", "REFERENCE_DBFS"]

#: WORLD analysis frame period (ms). Grammar WER on 200 neutral sentences (10 voices): 3.8 % at 10 ms,
#: 4.2 % at 5 ms (the same within noise); 10 ms costs ~0.05 s less CPU per clip.
WORLD_FRAME_MS = 10.0
#: Loudness of neutral speech (RMS over voiced regions, dBFS) before the recipe's energy gain.
REFERENCE_DBFS = -24.0


@dataclass(frozen=True)
class Recipe:
    """Acoustic recipe of one emotion at full intensity (relative to the speaker's neutral voice)."""

    f0_scale: float = 1.0  # F0 level, ratio to the speaker's mean
    range_scale: float = 1.0  # F0 range (std of log F0), ratio
    rate: float = 1.0  # duration stretch, > 1 slower
    gain_db: float = 0.0  # energy
    tilt_db: float = 0.0  # high-shelf (above ~1.5 kHz) gain: + brighter/tenser, − darker/softer
    contour_st: float = 0.0  # F0 change over the last 40 % of the utterance, semitones (+ rise)
    tremor_hz: float = 0.0  # F0 vibrato rate
    tremor_st: float = 0.0  # F0 vibrato depth, semitones
    jitter_st: float = 0.0  # random frame-to-frame F0 perturbation, semitones
    breath: float = 0.0  # aperiodicity added, 0..1

    def to_dict(self) -> dict:
        return asdict(self)


RECIPES: dict[str, Recipe] = {
    "neutral": Recipe(),
    "happy": Recipe(f0_scale=1.25, range_scale=1.7, rate=0.92, gain_db=3.0, tilt_db=3.0, contour_st=1.0),
    "sad": Recipe(f0_scale=0.84, range_scale=0.45, rate=1.30, gain_db=-7.0, tilt_db=-6.0, contour_st=-2.0,
                  breath=0.35),
    "angry": Recipe(f0_scale=1.12, range_scale=1.5, rate=0.88, gain_db=8.0, tilt_db=7.0, contour_st=-1.5,
                    jitter_st=0.5),
    "surprised": Recipe(f0_scale=1.40, range_scale=1.9, rate=0.97, gain_db=3.0, tilt_db=2.0, contour_st=5.0),
    "fearful": Recipe(f0_scale=1.30, range_scale=0.8, rate=0.86, gain_db=-2.0, tilt_db=-1.0, tremor_hz=7.0,
                      tremor_st=0.8, jitter_st=0.3, breath=0.3),
    "disgusted": Recipe(f0_scale=0.90, range_scale=0.8, rate=1.25, gain_db=-1.0, tilt_db=-3.0, contour_st=-4.0,
                        jitter_st=1.0),
}
assert set(RECIPES) == set(EMOTIONS)

_LOG_FIELDS = {"f0_scale", "range_scale", "rate"}


def recipe_for(emotion: str, intensity: float = 1.0) -> Recipe:
    """The recipe of ``emotion`` at ``intensity`` (0 = neutral, 1 = full; values up to 2 extrapolate)."""
    if emotion not in RECIPES:
        raise SynthError(f"unknown emotion {emotion!r}; known: {', '.join(EMOTIONS)}")
    if not 0.0 <= intensity <= 2.0:
        raise SynthError(f"emotion intensity must be in [0, 2], got {intensity}")
    full, neutral = RECIPES[emotion], RECIPES["neutral"]
    out = {}
    for f in fields(Recipe):
        a, b = getattr(neutral, f.name), getattr(full, f.name)
        if f.name in _LOG_FIELDS:
            out[f.name] = math.exp(math.log(a) + intensity * (math.log(b) - math.log(a)))
        elif f.name == "tremor_hz":
            out[f.name] = b  # the rate does not grade; the depth does
        else:
            out[f.name] = a + intensity * (b - a)
    return Recipe(**out)


def apply_tilt(wav: np.ndarray, tilt_db: float, corner_hz: float = 1500.0) -> np.ndarray:
    """High-shelf by mixing a first-order high-pass: ``y = x + (10^(tilt/20) − 1) · hp(x)``."""
    if abs(tilt_db) < 1e-6:
        return wav
    from scipy.signal import butter, lfilter

    b, a = butter(1, corner_hz / (SAMPLE_RATE / 2), btype="high")
    g = 10 ** (tilt_db / 20.0) - 1.0
    return (wav + g * lfilter(b, a, wav)).astype(np.float32)


def world_transform(wav: np.ndarray, rng: np.random.Generator, *, f0_target: float | None = None,
                    range_scale: float = 1.0, contour_st: float = 0.0, speech: tuple[float, float] | None = None,
                    tremor_hz: float = 0.0, tremor_st: float = 0.0, jitter_st: float = 0.0, breath: float = 0.0,
                    vtl: float = 1.0, frame_period: float | None = None) -> np.ndarray:
    """WORLD analysis → F0 / envelope / aperiodicity edits → synthesis, same length as ``wav``.

    f0_target: move the median voiced F0 here (None: keep); range_scale: scale log-F0 deviations;
    contour_st: ramp over the last 40 % of ``speech`` (start, end s); tremor/jitter in semitones;
    breath: raise aperiodicity; vtl: warp the spectral envelope's frequency axis by this factor.
    """
    pw = require_module("pyworld", "the synthetic corpus (WORLD vocoder)")
    frame_period = frame_period or WORLD_FRAME_MS
    x = wav.astype(np.float64)
    f0, t = pw.dio(x, SAMPLE_RATE, f0_floor=50.0, f0_ceil=600.0, frame_period=frame_period)
    f0 = pw.stonemask(x, f0, t, SAMPLE_RATE)
    sp = pw.cheaptrick(x, f0, t, SAMPLE_RATE)
    ap = pw.d4c(x, f0, t, SAMPLE_RATE)
    voiced = f0 > 0
    if voiced.any():
        lf = np.log(f0[voiced])
        centre = np.median(lf)
        new = centre + (lf - centre) * range_scale
        if f0_target is not None:
            new += math.log(f0_target) - centre
        st = np.zeros(t.shape)
        if contour_st and speech is not None:
            s0, s1 = speech
            a = s0 + 0.6 * (s1 - s0)
            st += contour_st * np.clip((t - a) / max(s1 - a, 1e-3), 0.0, 1.0)
        if tremor_st and tremor_hz:
            st += tremor_st * np.sin(2 * math.pi * tremor_hz * t + rng.uniform(0, 2 * math.pi))
        if jitter_st:
            st += jitter_st * rng.standard_normal(t.shape)
        new = new + st[voiced] * math.log(2) / 12
        f0 = f0.copy()
        f0[voiced] = np.exp(new)
    if abs(vtl - 1.0) > 1e-6:
        sp = warp_axis(sp, vtl, axis=1)
    if breath > 0:
        ap = 1.0 - (1.0 - ap) * (1.0 - breath)
    y = pw.synthesize(np.ascontiguousarray(f0), np.ascontiguousarray(sp), np.ascontiguousarray(ap),
                      SAMPLE_RATE, frame_period)
    out = np.zeros(len(wav), dtype=np.float32)
    m = min(len(y), len(wav))
    out[:m] = y[:m]
    return out


def _speech_span(phones: list[str], spans: list[list[float]]) -> tuple[float, float]:
    idx = [i for i, p in enumerate(phones) if p not in ("sil", "sp")]
    if not idx:
        return spans[0][0], spans[-1][1]
    return spans[idx[0]][0], spans[idx[-1]][1]


def _active_rms_db(wav: np.ndarray, phones: list[str], spans: list[list[float]]) -> float:
    s0, s1 = _speech_span(phones, spans)
    seg = wav[int(s0 * SAMPLE_RATE):int(s1 * SAMPLE_RATE)]
    return 10 * math.log10(float(np.mean(seg.astype(np.float64) ** 2)) + 1e-12)


def speak(voice: Voice | str, text: str, emotion: str = "neutral", intensity: float = 1.0,
          rng: np.random.Generator | None = None, pad_to: float = 0.04
          ) -> tuple[np.ndarray, list[str], list[list[float]], dict]:
    """Say ``text`` in ``voice`` acting ``emotion`` at ``intensity``.

    Returns (float32 wav at 16 kHz, phones, spans, info). The wav is padded with silence to a whole
    number of ``pad_to`` seconds (one video frame: T = 4F holds exactly) and the last ``sil`` span
    stretched to match. ``info`` records the applied recipe and prosody (for the manifest's ``extra``).
    """
    v = get_voice(voice) if isinstance(voice, str) else voice
    rng = rng if rng is not None else np.random.default_rng(0)
    r = recipe_for(emotion, intensity if emotion != "neutral" else 0.0)
    f0_mean = v.f0_mean * r.f0_scale
    f0_std = v.f0_std * r.range_scale
    rate = v.rate * r.rate
    # GRID's letter "a" is the letter name /EY/; flite reads a lone "a" as the article /AH/
    said = " ".join("ay" if w == "a" else w for w in text.split())
    wav, phones, spans = flite_say(v, said, f0_mean=f0_mean, f0_std=v.f0_std, rate=rate)
    speech = _speech_span(phones, spans)
    wav = world_transform(
        wav, rng, f0_target=None if v.flite_f0 else f0_mean,
        range_scale=r.range_scale, contour_st=r.contour_st, speech=speech,
        tremor_hz=r.tremor_hz, tremor_st=r.tremor_st, jitter_st=r.jitter_st, breath=r.breath, vtl=v.vtl)
    wav = apply_tilt(wav, r.tilt_db)
    level = _active_rms_db(wav, phones, spans)
    wav = wav * 10 ** ((REFERENCE_DBFS + r.gain_db - level) / 20.0)
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    if peak > 0.97:  # soft limiter keeps the loudest (angry) clips unclipped
        wav = (0.97 * np.tanh(wav / 0.97)).astype(np.float32)
    # pad to a whole number of video frames; stretch the final silence
    hop = int(round(pad_to * SAMPLE_RATE))
    n = int(math.ceil(wav.size / hop) * hop)
    if n > wav.size:
        wav = np.concatenate([wav, np.zeros(n - wav.size, np.float32)])
    wav = wav + rng.standard_normal(wav.size).astype(np.float32) * 10 ** (-75 / 20)  # dither, -75 dBFS
    dur = round(wav.size / SAMPLE_RATE, 5)
    if phones[-1] in ("sil", "sp"):
        spans[-1][1] = dur
    else:
        phones.append("sil")
        spans.append([spans[-1][1], dur])
    info = {"synth": "flite", "base_voice": v.base, "recipe": r.to_dict(), "f0_mean_hz": round(f0_mean, 2),
            "f0_std_hz": round(f0_std, 2), "duration_stretch": round(rate, 4), "vtl": v.vtl}
    return wav.astype(np.float32), phones, spans, info

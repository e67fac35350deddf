"""Speakers of the embedded corpus: flite voices and speakers derived from them.

A :class:`Voice` names a flite voice plus a prosodic identity (F0 mean and range, speaking rate) and,
for derived speakers, a vocal-tract-length warp of the spectral envelope (WORLD analysis/synthesis,
see :mod:`emodubber.data.synth.emotions`). :func:`flite_say` runs ``flite -psdur`` and returns the
16 kHz waveform with the ground-truth phone alignment mapped onto the project's phone set:
ARPAbet without stress (39 phones, upper case) plus ``sil`` and ``sp``.

espeak-ng is not used: its US voices were far less intelligible to the pocketsphinx judge than flite
(measured while choosing the corpus's voices, and again for the wide set: docs/voices.md), it has no phone
alignment the builder could use, and derived flite speakers are as distinct to resemblyzer.

Two voice sets. ``DEFAULT_VOICES`` / ``DEFAULT_HELDOUT`` (10 speakers, 1 held out) are what a profile gets
when ``corpus.voices`` is empty; the smoke and cpu corpora use them. ``WIDE_VOICES`` / ``WIDE_HELDOUT``
(39 speakers, 4 held out, 35 in training) add 29 flite-derived speakers spread over vocal-tract length
(0.88–1.18) and pitch level (82–235 Hz) for each flite voice, so that a speaker embedding learned from the
training voices covers the held-out ones (docs/paper.md §C.2, Setting 3); each held-out voice lies between
training voices of its flite voice. A profile selects them by listing the names (all of them:
nbconfig/wide_voices.example.yaml, which also gives the corpus a work dir of its own)::

    corpus:
      voices: [slt, awb, ..., kal-w8]        # emodubber.data.synth.voices.WIDE_VOICES
      heldout_voices: [slt-w3, awb-w2, rms-w3, kal-w3]   # WIDE_HELDOUT

``emodubber.metrics.voice_check`` measures their guarantees (grammar WER, resemblyzer spread, every
emotion recipe synthesises); its last run is docs/voices.md.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass

import numpy as np

from emodubber.tools import require_binary

__all__ = ["Voice", "VOICES", "DEFAULT_VOICES", "DEFAULT_HELDOUT", "WIDE_VOICES", "WIDE_HELDOUT", "ARPABET",
           "PHONE_SET", "SynthError", "get_voice", "flite_say", "espeak_say", "map_flite_phone", "SAMPLE_RATE"]

SAMPLE_RATE = 16000

#: The 39 ARPAbet phones of CMUdict without stress, upper case.
ARPABET: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
    "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
    "Z", "ZH",
)
#: Everything a synthetic phone string may contain: ARPAbet + silence (``sil``) + short pause (``sp``).
PHONE_SET: frozenset[str] = frozenset(ARPABET) | {"sil", "sp"}

#: flite's phones that are not plain ARPAbet.
_FLITE_EXTRA = {"ax": "AH", "axr": "ER", "ix": "IH", "dx": "T", "el": "L", "em": "M", "en": "N", "nx": "N",
                "hv": "HH", "h#": "sil", "ssil": "sil", "brth": "sp"}
#: An inner pause longer than this is ``sil``, shorter ones are ``sp``.
SHORT_PAUSE_S = 0.15


class SynthError(RuntimeError):
    """The synthesiser failed or returned something unusable; the message names voice and text."""


@dataclass(frozen=True)
class Voice:
    """One speaker of the embedded corpus."""

    name: str  # speaker id in the manifests
    base: str  # flite voice (slt, awb, rms, kal16)
    f0_mean: float  # Hz, flite int_f0_target_mean (the speaker's pitch level)
    f0_std: float  # Hz, flite int_f0_target_stddev (the speaker's pitch range)
    rate: float = 1.0  # flite duration_stretch (> 1: slower)
    vtl: float = 1.0  # spectral-envelope warp: > 1 shorter vocal tract (formants up), < 1 longer
    derived: bool = False  # True when the voice is a WORLD-processed variant of a flite voice
    flite_f0: bool = True  # False: flite ignores int_f0_target_* for this voice (rms); WORLD sets F0

    def to_dict(self) -> dict:
        return asdict(self)


#: The speakers (4 flite voices + 6 derived); chosen so that resemblyzer separates them and the
#: pocketsphinx GRID-grammar judge understands them (measured by tests/data/test_synth_voices.py).
#: Speakers differ in timbre (flite voice, vocal-tract warp) and pitch *level*; their pitch *range* is the same
#: fraction of their level (std ≈ 0.13 × mean, ≈ 2.2 semitones) and their rates lie within ±3 %, because range and
#: rate are what the emotion recipes move (an earlier table gave awb-lo 10 Hz at 92 Hz and a 10 % slower rate than
#: awb: its *neutral* was awb's disgusted in rate and range).
VOICES: dict[str, Voice] = {v.name: v for v in (
    Voice("slt", "slt", 170.0, 22.0, 1.00),
    Voice("awb", "awb", 115.0, 15.0, 1.00),
    Voice("rms", "rms", 105.0, 14.0, 1.00, flite_f0=False),
    Voice("kal", "kal16", 110.0, 14.0, 1.02),
    Voice("slt-lo", "slt", 140.0, 18.0, 1.03, vtl=0.92, derived=True),
    Voice("slt-hi", "slt", 215.0, 28.0, 0.97, vtl=1.06, derived=True),
    Voice("rms-hi", "rms", 160.0, 21.0, 1.00, vtl=1.12, derived=True, flite_f0=False),
    Voice("awb-lo", "awb", 92.0, 12.0, 1.03, vtl=0.94, derived=True),
    Voice("kal-hi", "kal16", 195.0, 25.0, 0.98, vtl=1.12, derived=True),
    Voice("rms-lo", "rms", 88.0, 11.5, 1.03, vtl=0.94, derived=True, flite_f0=False),
)}
#: The default corpus's speakers (the first ten above, in this order: the smoke and cpu corpora depend on it).
DEFAULT_VOICES: tuple[str, ...] = ("slt", "awb", "rms", "kal", "slt-lo", "slt-hi", "rms-hi", "awb-lo", "kal-hi",
                                   "rms-lo")
#: Kept out of training (all its clips go to the test split) for zero-shot checks.
DEFAULT_HELDOUT: tuple[str, ...] = ("rms-hi",)


def _wide(name: str, base: str, f0_mean: float, rate: float, vtl: float) -> Voice:
    """A derived speaker of the wide set: pitch range 0.129 × level (as the speakers above), F0 by WORLD for rms."""
    return Voice(name, base, f0_mean, round(0.129 * f0_mean, 1), rate, vtl=vtl, derived=True,
                 flite_f0=base != "rms")


#: The wide set's added speakers: (vtl, F0 level) spread around each flite voice, crossing the usual
#: "short tract ↔ high pitch" pairing (e.g. slt-w5: longer tract, higher pitch) for more distinct timbres.
#: Rates stay within 0.97–1.03 like the speakers above (rate is an emotion cue). Long tracts (vtl < 0.92) cost
#: intelligibility on the male voices (grammar WER on 3 sentences: awb at vtl 0.88 / 85 Hz 22 %, kal16 at 0.90 /
#: 95 Hz 44 %), so those use vtl ≥ 0.92; slt keeps 0.88 (0 %).
for _v in (
    _wide("slt-w1", "slt", 130.0, 1.02, 0.88), _wide("slt-w2", "slt", 155.0, 1.00, 0.96),
    _wide("slt-w3", "slt", 190.0, 0.99, 1.03), _wide("slt-w4", "slt", 235.0, 0.98, 1.10),
    _wide("slt-w5", "slt", 200.0, 1.01, 0.96), _wide("slt-w6", "slt", 160.0, 1.02, 1.08),
    _wide("slt-w7", "slt", 175.0, 0.98, 0.90), _wide("slt-w8", "slt", 205.0, 0.99, 1.01),
    _wide("slt-w9", "slt", 180.0, 1.00, 1.06),
    _wide("awb-w1", "awb", 140.0, 1.01, 0.97), _wide("awb-w2", "awb", 105.0, 1.01, 0.97),
    _wide("awb-w3", "awb", 130.0, 0.99, 1.05), _wide("awb-w4", "awb", 150.0, 0.98, 1.12),
    _wide("awb-w5", "awb", 100.0, 1.02, 1.04), _wide("awb-w6", "awb", 125.0, 0.98, 0.92),
    _wide("rms-w1", "rms", 82.0, 1.02, 0.92), _wide("rms-w2", "rms", 96.0, 1.00, 0.97),
    _wide("rms-w3", "rms", 125.0, 0.99, 1.05), _wide("rms-w4", "rms", 180.0, 0.98, 1.18),
    _wide("rms-w5", "rms", 110.0, 1.02, 1.08), _wide("rms-w6", "rms", 120.0, 0.99, 0.92),
    _wide("kal-w1", "kal16", 100.0, 1.02, 0.94), _wide("kal-w2", "kal16", 125.0, 1.00, 0.96),
    _wide("kal-w3", "kal16", 150.0, 0.99, 1.05), _wide("kal-w4", "kal16", 215.0, 0.97, 1.18),
    _wide("kal-w5", "kal16", 120.0, 1.02, 1.08), _wide("kal-w6", "kal16", 165.0, 0.98, 0.94),
    _wide("kal-w7", "kal16", 160.0, 0.99, 1.02), _wide("kal-w8", "kal16", 145.0, 1.00, 1.09),
):
    VOICES[_v.name] = _v
del _v
#: The wide set: every speaker above (39); 35 train, the 4 held out lie inside their flite voice's
#: (vtl, F0) range — measured against the training voices' resemblyzer spread in docs/voices.md.
#: slt-w8/-w9 and kal-w7/-w8 fill the gaps around slt-w3 and kal-w3: without them the held-out voices'
#: nearest training voice was further (resemblyzer) than the training voices' typical nearest neighbour
#: (chosen on a run with other sentences, seed 1; docs/voices.md, seed 0, is the check).
WIDE_VOICES: tuple[str, ...] = tuple(VOICES)
WIDE_HELDOUT: tuple[str, ...] = ("slt-w3", "awb-w2", "rms-w3", "kal-w3")


def get_voice(name: str) -> Voice:
    try:
        return VOICES[name]
    except KeyError:
        raise SynthError(f"unknown voice {name!r}; known voices: {', '.join(VOICES)}") from None


def map_flite_phone(p: str) -> str:
    """flite's CMU phone (``pau``, ``ax``, ``iy`` …) → the project's phone set."""
    p = p.strip().lower()
    if p == "pau":
        return "sil"
    if p in _FLITE_EXTRA:
        return _FLITE_EXTRA[p]
    up = p.upper().rstrip("012")
    if up not in ARPABET:
        raise SynthError(f"flite phone {p!r} has no ARPAbet equivalent")
    return up


def _parse_psdur(out: str) -> list[tuple[str, float]]:
    items = []
    for tok in out.split():
        if ":" not in tok:
            continue
        ph, _, end = tok.rpartition(":")
        try:
            items.append((ph, float(end)))
        except ValueError:
            continue
    return items


#: Placeholder for the output wav's path in a synthesiser's argument list (:func:`_run_synth`).
_OUT = object()


def _run_synth(args: list, who: str, text: str) -> tuple[np.ndarray, str]:
    """Run a synthesiser that writes a wav file at ``args``' ``_OUT`` item: (mono float32 wav at 16 kHz, stdout)."""
    import soundfile as sf

    fd, tmp = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        proc = subprocess.run([tmp if a is _OUT else a for a in args], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 or os.path.getsize(tmp) == 0:
            raise SynthError(f"{who} failed on {text!r}: {proc.stderr.strip()[:200]}")
        wav, sr = sf.read(tmp, dtype="float32")
    finally:
        os.unlink(tmp)
    if wav.ndim > 1:
        wav = wav.mean(axis=1)
    if sr != SAMPLE_RATE:
        import librosa

        wav = librosa.resample(wav, orig_sr=sr, target_sr=SAMPLE_RATE).astype(np.float32)
    return wav, proc.stdout


def flite_say(voice: Voice | str, text: str, f0_mean: float | None = None, f0_std: float | None = None,
              rate: float | None = None) -> tuple[np.ndarray, list[str], list[list[float]]]:
    """Synthesise ``text`` with flite: (float32 wav at 16 kHz, phones, contiguous spans [s, e] in s).

    ``f0_mean``/``f0_std``/``rate`` override the voice's own prosody (emotion recipes use them).
    Leading/trailing pauses become ``sil``; inner pauses ``sp`` (short) or ``sil``. The spans
    cover the whole waveform exactly (the last one ends at ``len(wav) / 16000``).
    """
    v = get_voice(voice) if isinstance(voice, str) else voice
    flite = require_binary("flite")
    args = [flite, "-voice", v.base, "-psdur",
            "--setf", f"int_f0_target_mean={f0_mean if f0_mean is not None else v.f0_mean:.3f}",
            "--setf", f"int_f0_target_stddev={f0_std if f0_std is not None else v.f0_std:.3f}",
            "--setf", f"duration_stretch={rate if rate is not None else v.rate:.4f}"]
    wav, stdout = _run_synth(args + ["-t", text, "-o", _OUT], f"flite ({v.base})", text)
    items = _parse_psdur(stdout)
    if not items or wav.size == 0:
        raise SynthError(f"flite ({v.base}) returned no phones/audio for {text!r}")
    dur = wav.size / SAMPLE_RATE
    phones, spans, start = [], [], 0.0
    for i, (p, end) in enumerate(items):
        ph = map_flite_phone(p)
        end = min(end, dur)
        if i == len(items) - 1:
            end = dur
        if end <= start + 1e-6 and i < len(items) - 1:
            continue  # zero-length phone (rounding at the end of the audio)
        if ph == "sil" and 0 < i < len(items) - 1 and end - start < SHORT_PAUSE_S:
            ph = "sp"
        if phones and ph in ("sil", "sp") and phones[-1] in ("sil", "sp"):
            spans[-1][1] = round(end, 5)  # merge adjacent pauses
        else:
            phones.append(ph)
            spans.append([round(start, 5), round(end, 5)])
        start = end
    if spans[-1][1] < dur:
        spans[-1][1] = round(dur, 5)
    return wav.astype(np.float32), phones, spans


def espeak_say(variant: str, text: str, words_per_minute: int = 150) -> np.ndarray:
    """Synthesise ``text`` with espeak-ng voice ``variant`` (e.g. ``"en-us+f2"``): float32 wav at 16 kHz, peak 0.5.

    No phone alignment (espeak-ng gives none without MBROLA): used only to measure espeak-ng's intelligibility
    against the corpus's flite voices (:mod:`emodubber.metrics.voice_check`).
    """
    espeak = require_binary("espeak-ng")
    args = [espeak, "-v", variant, "-s", str(words_per_minute), "-w", _OUT, text]
    wav, _ = _run_synth(args, f"espeak-ng ({variant})", text)
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    if peak == 0.0:
        raise SynthError(f"espeak-ng ({variant}) returned silence for {text!r}")
    return (0.5 * wav / peak).astype(np.float32)

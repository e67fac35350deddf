"""The emotion recipes move what they claim, at graded intensities, and keep the alignment true."""

from __future__ import annotations

import numpy as np
import pytest

from emodubber.config import EMOTIONS
from emodubber.data.synth.emotions import RECIPES, Recipe, apply_tilt, recipe_for
from emodubber.data.synth.voices import SynthError
from tests.conftest import needs_tools

TEXT = "place white with x seven soon"


def test_recipes_cover_the_emotions_and_grade():
    assert set(RECIPES) == set(EMOTIONS)
    for e in EMOTIONS:
        r0 = recipe_for(e, 0.0).to_dict()
        for k, v in Recipe().to_dict().items():
            if k != "tremor_hz":
                assert r0[k] == pytest.approx(v)
    half, full = recipe_for("happy", 0.5), recipe_for("happy", 1.0)
    assert 1.0 < half.f0_scale < full.f0_scale and 0 < half.gain_db < full.gain_db
    assert recipe_for("sad", 1.0).rate > 1.0 > recipe_for("angry", 1.0).rate
    with pytest.raises(SynthError, match="unknown emotion"):
        recipe_for("bored")
    with pytest.raises(SynthError, match="intensity"):
        recipe_for("sad", 3.0)


def test_tilt_moves_the_spectral_balance():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000).astype(np.float32)
    spec = lambda y: np.abs(np.fft.rfft(y))  # noqa: E731
    hi = slice(4000, 8000)  # 4-8 kHz bins of a 1-s signal
    lo = slice(100, 500)
    for tilt in (6.0, -6.0):
        y = apply_tilt(x, tilt)
        ratio = (spec(y)[hi].mean() / spec(y)[lo].mean()) / (spec(x)[hi].mean() / spec(x)[lo].mean())
        assert (ratio > 1.5) if tilt > 0 else (ratio < 0.7)


def _measure(wav, phones, spans):
    import librosa
    import pyworld as pw

    f0, t = pw.dio(wav.astype(np.float64), 16000, frame_period=10.0)
    voiced = f0 > 0
    speech = [i for i, p in enumerate(phones) if p not in ("sil", "sp")]
    s0, s1 = spans[speech[0]][0], spans[speech[-1]][1]
    seg = wav[int(s0 * 16000):int(s1 * 16000)]
    late = voiced & (t > s0 + 0.8 * (s1 - s0)) & (t < s1)
    early = voiced & (t > s0) & (t < s0 + 0.5 * (s1 - s0))
    return {
        "f0": float(np.median(f0[voiced])),
        "speech_s": s1 - s0,
        "rms_db": 10 * np.log10(np.mean(seg ** 2)),
        "centroid": float(librosa.feature.spectral_centroid(y=seg, sr=16000).mean()),
        "rise": float(np.median(f0[late]) / np.median(f0[early])),
    }


@pytest.fixture(scope="module")
def acted():
    import shutil

    if not shutil.which("flite"):
        pytest.skip("flite not installed")
    pytest.importorskip("pyworld")
    from emodubber.data.synth.emotions import speak

    out = {}
    for e in EMOTIONS:
        for a in (0.5, 1.0):
            wav, phones, spans, info = speak("slt", TEXT, e, a, np.random.default_rng(0))
            out[e, a] = (wav, phones, spans, _measure(wav, phones, spans))
    return out


@needs_tools
def test_alignment_stays_true_under_every_recipe(acted):
    ref_phones = acted["neutral", 1.0][1]
    for (e, a), (wav, phones, spans, _) in acted.items():
        assert phones == ref_phones, (e, a)
        assert len(wav) % 640 == 0  # whole video frames: T = 4F
        assert spans[-1][1] == pytest.approx(len(wav) / 16000, abs=1e-4)
        assert all(abs(x[1] - y[0]) < 1e-6 for x, y in zip(spans, spans[1:]))


@needs_tools
def test_recipes_move_what_they_claim(acted):
    m = {k: v[3] for k, v in acted.items()}
    n = m["neutral", 1.0]
    # F0 level: happy > neutral > sad; surprised and fearful high, disgusted low
    assert m["happy", 1.0]["f0"] > 1.12 * n["f0"] > 1.12 * 1.0 * m["sad", 1.0]["f0"]
    assert m["surprised", 1.0]["f0"] > m["happy", 1.0]["f0"]
    assert m["fearful", 1.0]["f0"] > n["f0"] > m["disgusted", 1.0]["f0"]
    # graded: half intensity lies between neutral and full
    assert n["f0"] < m["happy", 0.5]["f0"] < m["happy", 1.0]["f0"]
    assert n["speech_s"] < m["sad", 0.5]["speech_s"] < m["sad", 1.0]["speech_s"]
    # rate: sad and disgusted slower, angry and fearful faster
    assert m["sad", 1.0]["speech_s"] > 1.2 * n["speech_s"]
    assert m["disgusted", 1.0]["speech_s"] > n["speech_s"] > m["angry", 1.0]["speech_s"]
    assert m["fearful", 1.0]["speech_s"] < n["speech_s"]
    # energy: angry louder, sad quieter; tilt: angry brighter, sad darker
    assert m["angry", 1.0]["rms_db"] > n["rms_db"] + 5 > m["sad", 1.0]["rms_db"] + 5 + 4
    assert m["angry", 1.0]["centroid"] > n["centroid"] > m["sad", 1.0]["centroid"]
    # contour: surprise rises at the end more than neutral
    assert m["surprised", 1.0]["rise"] > 1.12 * n["rise"]


@needs_tools
def test_fear_trembles(acted):
    """Fearful F0 carries a 7 Hz modulation that neutral speech lacks."""
    import pyworld as pw

    def tremor_power(wav):
        f0, t = pw.dio(wav.astype(np.float64), 16000, frame_period=5.0)
        f0 = pw.stonemask(wav.astype(np.float64), f0, t, 16000)
        lf = np.log(f0[f0 > 0])
        lf = lf - np.convolve(lf, np.ones(41) / 41, mode="same")  # remove the slow intonation
        spec = np.abs(np.fft.rfft(lf[20:-20] * np.hanning(len(lf) - 40))) ** 2
        freqs = np.fft.rfftfreq(len(lf) - 40, d=0.005)
        band = (freqs > 5.5) & (freqs < 8.5)
        return spec[band].sum() / spec[(freqs > 1) & (freqs < 20)].sum()

    assert tremor_power(acted["fearful", 1.0][0]) > 1.5 * tremor_power(acted["neutral", 1.0][0])

"""DNSMOS judge: flite > Griffin-Lim of its mel > white noise (OVRL); bad input is NaN + reason; clips per second."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from tests.metrics.conftest import flite_clip

SENTENCE = "place green with k three soon"


@pytest.fixture(scope="module")
def judge():
    pytest.importorskip("speechmos")
    pytest.importorskip("onnxruntime")
    from emodubber.metrics.dnsmos import DNSMOS

    return DNSMOS()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return flite_clip(tmp_path_factory.mktemp("dnsmos"), SENTENCE)


def _griffin_lim(x: np.ndarray, sr: int = 16000) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(y=x, sr=sr, n_fft=1024, hop_length=256, n_mels=80)
    y = librosa.feature.inverse.mel_to_audio(mel, sr=sr, n_fft=1024, hop_length=256, n_iter=32)
    return (0.9 * y / (np.abs(y).max() + 1e-9)).astype(np.float32)


@pytest.mark.slow
def test_flite_above_griffin_lim_above_noise(judge, clip):
    rng = np.random.default_rng(0)
    noise = np.clip(0.3 * rng.standard_normal(len(clip.wav)), -1, 1).astype(np.float32)
    clips = [clip, (_griffin_lim(clip.wav), 16000), (noise, 16000)]
    t, c = time.perf_counter(), time.process_time()
    flite, gl, wn = judge.score_many(clips)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"\nDNSMOS OVRL flite {flite['dnsmos_ovrl']:.2f}, Griffin-Lim {gl['dnsmos_ovrl']:.2f}, noise "
          f"{wn['dnsmos_ovrl']:.2f}; P.808 {flite['dnsmos_p808']:.2f} / {gl['dnsmos_p808']:.2f} / "
          f"{wn['dnsmos_p808']:.2f}; "
          f"{len(clips) / wall:.2f} clips/s wall, {len(clips) / cpu:.2f} clips per CPU-s "
          f"({len(clip.wav) / 16000:.1f}-s clips, sessions built in the first call)")
    assert all(r["error"] == "" for r in (flite, gl, wn))
    assert flite["dnsmos_ovrl"] > gl["dnsmos_ovrl"] > wn["dnsmos_ovrl"]
    for r in (flite, gl, wn):
        assert 1.0 <= r["dnsmos_ovrl"] <= 5.0 and 1.0 <= r["dnsmos_p808"] <= 5.0


def test_bad_input_is_nan_with_reason(judge):
    sr = 16000
    x = (0.1 * np.sin(np.arange(2 * sr) / 5.0)).astype(np.float32)
    for bad, start in (((np.zeros(2 * sr, np.float32), sr), "silent"), ((np.stack([x, x]), sr), "not mono"),
                       ((np.where(np.arange(2 * sr) == 5, np.inf, x).astype(np.float32), sr), "non-finite"),
                       ((x[: sr // 2], sr), "shorter than"), ((x, 8000), "sample rate"),
                       ((30 * x, sr), "samples outside")):
        r = judge.score(bad)
        assert all(math.isnan(r[c]) for c in ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"))
        assert r["error"].startswith(start), r


def test_a_short_clip_is_scored_as_one_window_filled_with_its_repeats(judge, monkeypatch):
    from emodubber.metrics import dnsmos as dn

    seen = []

    def fake_scorer(*paths_and_threads):
        def score(wav, sr, personalized):
            seen.append(np.asarray(wav).copy())
            return {"sig_mos": 3.0, "bak_mos": 4.0, "ovrl_mos": 2.5, "p808_mos": 3.5}
        return score

    monkeypatch.setattr(dn, "_scorer", fake_scorer)
    x = (0.1 * np.sin(np.arange(int(2.05 * 16000)) / 5.0)).astype(np.float32)
    r = dn.DNSMOS().score((x, 16000))
    assert r["dnsmos_ovrl"] == 2.5 and r["error"] == ""
    assert len(seen[-1]) == dn.WINDOW  # exactly one 9.01-s window: one ONNX pass, not speechmos's seven
    np.testing.assert_array_equal(seen[-1][: len(x)], x)
    np.testing.assert_array_equal(seen[-1][len(x): 2 * len(x)], x)  # filled with the clip's repeats
    long = np.tile(x, 6)  # longer than a window: passed on as it is (speechmos's 1-s hops)
    dn.DNSMOS().score((long, 16000))
    assert len(seen[-1]) == len(long)
    dn.DNSMOS(short_clip="speechmos").score((x, 16000))
    assert len(seen[-1]) == len(x)  # speechmos tiles it itself
    with pytest.raises(ValueError, match="short_clip must be one of"):
        dn.DNSMOS(short_clip="first")


@pytest.mark.slow
def test_one_window_equals_speechmos_when_its_tiling_gives_one_window(judge):
    """A 2.27-s clip doubles twice to 9.08 s: speechmos scores one window, the same samples as ours."""
    from emodubber.metrics.dnsmos import DNSMOS

    rng = np.random.default_rng(0)
    t = np.arange(int(2.27 * 16000)) / 16000
    x = (0.2 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
         + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    ours, theirs = judge.score((x, 16000)), DNSMOS(short_clip="speechmos").score((x, 16000))
    for c in ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"):
        assert ours[c] == pytest.approx(theirs[c], abs=1e-6)

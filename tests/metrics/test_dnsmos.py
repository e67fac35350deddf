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

"""LSE plumbing: syncnet-python's scoring conventions, muxing, caching, bad input. The *accuracy* of a trained
sync expert is checked by the judge validation (notebooks/07_judges), not here."""

import math

import numpy as np
import pytest
import soundfile as sf

from emodubber.metrics.lse import sync_scores
from emodubber.metrics.syncnet import expected_av_offset, shift_audio
from tests.conftest import needs_tools


def test_offset_sign_convention_with_syncnet_scoring():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(60, 16)).astype(np.float32)
    true = sync_scores(v, v.copy(), vshift=15)
    assert true["av_offset"] == 0 and true["lse_d"] == pytest.approx(0, abs=1e-3) and true["lse_c"] > 0
    for d in (3, -5):
        a = np.roll(v, d, axis=0)  # audio embedding of frame i appears at i + d: audio d frames late
        s = sync_scores(v, a, vshift=15)
        assert s["av_offset"] == expected_av_offset(d) == -d
        assert s["sync_conf_at0"] < true["sync_conf_at0"]
        assert s["lse_c"] > s["sync_conf_at0"]  # the search forgives the shift, the zero-offset score does not


def test_shift_audio_keeps_length_and_moves_content():
    x = np.arange(6400, dtype=np.float32) + 1
    late = shift_audio(x, 2)
    assert len(late) == len(x) and (late[:1280] == 0).all() and late[1280] == 1
    early = shift_audio(x, -2)
    assert early[0] == 1281 and (early[-1280:] == 0).all()


@needs_tools
def test_mux_roundtrip_keeps_audio_aligned(tmp_path, flite_clips):
    from emodubber.media import extract_audio
    from emodubber.metrics.lse import mux_audio
    from tests.metrics.conftest import mouth_video

    x, _ = sf.read(flite_clips[("slt", 0)], dtype="float32")
    mouth_video(x, tmp_path / "v.mp4")
    back = extract_audio(mux_audio(tmp_path / "v.mp4", flite_clips[("slt", 0)], tmp_path / "m.mp4"), tmp_path / "b.wav")
    y, sr = sf.read(back, dtype="float32")
    assert sr == 16000
    n = min(len(x), len(y))
    lags = np.arange(-320, 321)
    corr = [np.dot(x[max(0, -k):n - max(0, k)], y[max(0, k):n - max(0, -k)]) for k in lags]
    assert abs(lags[int(np.argmax(corr))]) <= 16  # within 1 ms: no codec delay shifts the offset


@needs_tools
@pytest.mark.slow
def test_sync_judge_scores_caches_and_reports_bad_input(tmp_path, flite_clips, random_syncnet):
    import time

    from emodubber.metrics.lse import SyncJudge, SyncWeightsError
    from tests.metrics.conftest import mouth_video

    wav = flite_clips[("slt", 1)]
    x, _ = sf.read(wav, dtype="float32")
    mouth_video(x[:16000 * 2], tmp_path / "v.mp4")
    mouth_video(x[:16000 * 2], tmp_path / "blank.mp4", blank=True)
    j = SyncJudge(random_syncnet, label="random", cache_dir=tmp_path / "cache", vshift=5)
    t = time.perf_counter()
    r = j.score_generated(tmp_path / "v.mp4", wav)
    t_first = time.perf_counter() - t
    assert r.error == "" and all(math.isfinite(getattr(r, k)) for k in ("lse_c", "lse_d", "sync_conf_at0"))
    assert r.lse_c >= 0 and r.lse_d <= r.sync_dist_at0 and -5 <= r.av_offset <= 5
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    j2 = SyncJudge(random_syncnet, label="random", cache_dir=tmp_path / "cache", vshift=5)  # disk cache
    t = time.perf_counter()
    r2 = j2.score(tmp_path / "v.mp4", wav)
    assert time.perf_counter() - t < t_first
    assert r2.lse_d == pytest.approx(r.lse_d, abs=0.05)  # only the AAC round trip differs
    assert "no face" in j.score(tmp_path / "blank.mp4", wav).error
    assert "missing" in j.score_generated(tmp_path / "v.mp4", tmp_path / "none.wav").error
    sf.write(tmp_path / "silent.wav", np.zeros(32000, np.float32), 16000)
    assert "silent" in j.score_generated(tmp_path / "v.mp4", tmp_path / "silent.wav").error
    assert "missing" in j.score(tmp_path / "nope.mp4", wav).error
    with pytest.raises(SyncWeightsError, match="SHA-256"):
        SyncJudge(random_syncnet, expected_sha256="0" * 64)
    assert j.settings["weights_sha256"] == j.weights_sha256 and len(j.weights_sha256) == 64


def test_wrong_weights_are_refused(tmp_path):
    import torch

    from emodubber.metrics.lse import SyncJudge, SyncWeightsError

    torch.save({"not": torch.zeros(3)}, tmp_path / "bad.pt")
    with pytest.raises(SyncWeightsError, match="does not fit"):
        SyncJudge(tmp_path / "bad.pt")

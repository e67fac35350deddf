"""Sanity checks (emodubber.data.checks) on the tiny flite fixture and, when the builder exists, the synthetic corpus."""

import importlib.util

import numpy as np
import pytest

from emodubber.config import load_profile
from emodubber.data import checks
from emodubber.data.features import feature_path, load_index
from emodubber.data.manifest import read_manifest
from tests.conftest import needs_tools

pytestmark = [needs_tools, pytest.mark.slow]


def _clips(cfg, corpus="dubbing"):
    idx = load_index(cfg, corpus)["clips"]
    for rec in read_manifest(cfg.corpus_dir / f"{corpus}.jsonl"):
        if rec.clip_id in idx:
            with np.load(feature_path(cfg, idx[rec.clip_id])) as z:
                yield rec, {k: z[k] for k in z.files}


def _assert_corpus_passes(cfg):
    s = checks.run_checks(cfg, "dubbing")["summary"]
    assert s["clips"] > 0
    assert s["silence_contrast_db_min"] > 15  # sil phones sit on the quiet frames
    assert s["onset_within_40ms"] >= 0.75 and s["onset_abs_err_ms_median"] <= 20
    assert s["offset_within_40ms"] >= 0.6
    assert s["mouth_audio_r_mean"] > 0.3  # the mouth moves with the audio
    return s


def test_checks_pass_on_true_alignments(tmp_path_factory):
    from tests.fixtures.tiny_corpus import tiny_cfg

    _assert_corpus_passes(tiny_cfg(tmp_path_factory))


def test_checks_catch_shifted_alignments_and_frozen_mouths(tmp_path_factory):
    from tests.fixtures.tiny_corpus import tiny_cfg

    cfg = tiny_cfg(tmp_path_factory)
    for rec, z in _clips(cfg):
        d = z["durations"].copy()
        on, _ = checks.onset_offset_errors_ms(z["mel"], d, rec.phonemes)
        shifted = d.copy()
        shifted[0] += 20  # the alignment says speech starts 200 ms later than it does
        shifted[-1] -= 20
        on_s, _ = checks.onset_offset_errors_ms(z["mel"], shifted, rec.phonemes)
        assert abs(on_s) > abs(on) + 100
        r = checks.mouth_audio_correlation(z["lip"], z["mel"])
        r_rev = checks.mouth_audio_correlation(z["lip"][::-1].copy(), z["mel"])
        assert r > r_rev + 0.2


@pytest.mark.skipif(importlib.util.find_spec("emodubber.data.synth.builder") is None,
                    reason="the synthetic-corpus builder is not there yet")
def test_checks_on_the_synthetic_corpus(tmp_path):
    from emodubber.data.cli import prepare

    cfg = load_profile("smoke", overrides={"paths.work_dir": str(tmp_path), "corpus.n_dubbing_clips": 10,
                                           "corpus.n_emotion_clips": 7, "corpus.n_workers": 1}, local=None)
    summary = prepare(cfg, show_progress=False)
    assert summary["features"]["dubbing"]["skipped"] == 0  # the detector finds every rendered face
    _assert_corpus_passes(cfg)

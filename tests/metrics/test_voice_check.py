"""voice_check: held-out placement among training voices, the markdown report, the synthesis plumbing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emodubber.data.synth.voices import SynthError
from emodubber.metrics.voice_check import check_voices, speaker_spread, voices_markdown
from tests.conftest import needs_tools


def _clips(angle_deg: float, n: int = 3, jitter: float = 0.05, seed: int = 0) -> np.ndarray:
    """n unit-ish 3-d embeddings around angle θ on the unit circle (z = clip noise)."""
    t = math.radians(angle_deg)
    r = np.random.default_rng(seed)
    return np.array([[math.cos(t), math.sin(t), 0.0]]) + jitter * r.standard_normal((n, 3))


def test_spread_places_an_inside_voice_within_and_an_outside_one_not():
    # training voices every 20° from 0° to 100°; "in" at 50° (between two), "out" at 170° (far beyond the edge)
    emb = {f"t{a}": _clips(a, seed=a) for a in range(0, 101, 20)}
    emb["in"], emb["out"] = _clips(50, seed=1), _clips(170, seed=2)
    sp = speaker_spread(emb, ["in", "out"])
    assert set(sp["train_nn"]) == {f"t{a}" for a in range(0, 101, 20)}
    assert sp["train_nn"]["t0"][0] == "t20"
    assert sp["typical_nn"] == pytest.approx(100 * math.cos(math.radians(20)), abs=2.0)
    assert sp["heldout"]["in"]["nearest"] in ("t40", "t60") and sp["heldout"]["in"]["within"]
    assert sp["heldout"]["out"]["nearest"] == "t100" and not sp["heldout"]["out"]["within"]
    assert sp["heldout"]["out"]["secs_nearest"] < sp["min_nn"]
    # the training grid's spacing in units of own consistency: ~ own (≈ 100) − cos 20°
    assert sp["typical_gap"] == pytest.approx(100 - 100 * math.cos(math.radians(20)), abs=2.0)
    assert sp["heldout"]["in"]["within_relative"] and not sp["heldout"]["out"]["within_relative"]
    d = sp["heldout"]["in"]
    assert d["margin"] == pytest.approx(sp["self"]["in"] - d["secs_nearest"])
    assert 95 < sp["self"]["in"] <= 100  # its own clips nearly agree


def test_spread_refuses_bad_input():
    emb = {"a": _clips(0), "b": _clips(90)}
    with pytest.raises(ValueError, match="no embeddings"):
        speaker_spread(emb, ["c"])
    with pytest.raises(ValueError, match="at least 2 training voices"):
        speaker_spread(emb, ["a"])
    with pytest.raises(ValueError, match=r"\['c'\] have fewer than 2 clip embeddings"):
        speaker_spread({**emb, "c": _clips(45, n=1)}, [])


def test_check_voices_refuses_bad_input_before_synthesis():
    with pytest.raises(SynthError, match="unknown voice 'nobody'"):
        check_voices(["slt", "nobody"], [], asr=object(), judge=object())
    with pytest.raises(ValueError, match="not among the voices"):
        check_voices(["slt", "awb"], ["rms"], asr=object(), judge=object())
    with pytest.raises(ValueError, match=r"unknown emotion\(s\) \['bored'\]"):
        check_voices(["slt", "awb"], [], emotions=("neutral", "bored"), asr=object(), judge=object())
    with pytest.raises(ValueError, match="n_sentences"):
        check_voices(["slt", "awb"], [], n_sentences=1, asr=object(), judge=object())


class _DeafASR:
    def transcribe(self, wav):
        return ""


class _PitchJudge:
    """A stand-in speaker judge: a 2-d embedding from the clip's zero-crossing rate (pitch/timbre proxy)."""

    def embed(self, wav):
        z = float(np.mean(np.abs(np.diff(np.sign(wav))) > 0))
        return np.array([1.0, 20 * z]), ""


@needs_tools
def test_check_voices_runs_every_recipe_through_speak_and_scores_it():
    res = check_voices(["slt", "awb", "rms-w4"], ["rms-w4"], n_sentences=2, emotions=("neutral", "angry", "sad"),
                       asr=_DeafASR(), judge=_PitchJudge())
    assert [r["voice"] for r in res["rows"]] == ["slt", "awb", "rms-w4"]
    for r in res["rows"]:
        assert (r["emotions_ok"], r["emotions_total"], r["failures"]) == (3, 3, [])
        assert r["wer_neutral"] == 1.0 and r["wer_emotional"] == 1.0  # a deaf judge deletes every word
        assert r["words"] == 4 * 6  # 2 neutral + angry + sad, six GRID words each
    assert set(res["spread"]["heldout"]) == {"rms-w4"} and set(res["spread"]["train_nn"]) == {"slt", "awb"}
    md = voices_markdown(res, "cmd")
    assert "not a model result" in md and "`cmd`" in md
    assert md.count("\n| rms-w4 |") == 2  # per-voice row + held-out row
    assert "| rms-w4 | rms | 180 | 1.18 | 0.98 | held out | 100.0 | 100.0 | 3/3 |" in md
    assert set(res["embeddings"]) == {"slt", "awb", "rms-w4"} and res["embeddings"]["slt"].shape == (2, 2)


class _FlakyJudge(_PitchJudge):
    """Fails on its ``fail_at``-th call (1-based), like a clip with no speech after VAD trimming."""

    def __init__(self, fail_at: int):
        self.calls, self.fail_at = 0, fail_at

    def embed(self, wav):
        self.calls += 1
        return (None, "no speech after VAD trimming") if self.calls == self.fail_at else super().embed(wav)


@needs_tools
def test_a_voice_missing_a_clip_embedding_is_left_out_of_the_spread():
    res = check_voices(["slt", "awb", "kal"], [], n_sentences=2, emotions=("neutral",), asr=_DeafASR(),
                       judge=_FlakyJudge(fail_at=6))
    assert set(res["embeddings"]) == {"slt", "awb"} and set(res["spread"]["train_nn"]) == {"slt", "awb"}
    kal = res["rows"][2]
    assert kal["emotions_ok"] == 1 and any("left out of the spread" in f for f in kal["failures"])

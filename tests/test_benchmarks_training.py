"""benchmarks/training.py: the suite's own data path beside the random batches, and its report lines."""

from __future__ import annotations

import emodubber  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch starts its threads)

from benchmarks.report import _real_training
from benchmarks.training import real_data_available

RANDOM = [{"stage": "tts", "samples_per_s": 30.0}, {"stage": "emotion_expert", "samples_per_s": 700.0}]
REAL = {"work_dir": "work/cpu", "rows": [
    {"stage": "tts", "batch": 32, "samples_per_s": 25.0, "s_per_step": 1.28, "steps": 6},
    {"stage": "emotion_expert", "batch": 32, "samples_per_s": 100.0, "s_per_step": 0.32, "steps": 6}]}


def test_report_gives_the_ratio_of_random_to_real_and_judges_it_against_one_and_a_half():
    text = "\n".join(_real_training(REAL, RANDOM))
    assert "| tts | 32 | 1.28 | **25.0** | 30.0 | 1.20 | yes |" in text
    assert "| emotion_expert | 32 | 0.32 | **100.0** | 700.0 | 7.00 | no |" in text
    assert "6 steps" in text and "`work/cpu`" in text
    assert _real_training(None, RANDOM) == []
    assert "Skipped: no corpus" in "\n".join(_real_training({"skipped": "no corpus"}, RANDOM))


def test_real_data_path_names_what_is_missing(tmp_path):
    assert "no work directory" in real_data_available("")
    assert "dubbing.jsonl is missing" in real_data_available(str(tmp_path))
    (tmp_path / "corpus").mkdir()
    for name in ("dubbing.jsonl", "emotion.jsonl"):
        (tmp_path / "corpus" / name).write_text("")
    (tmp_path / "features").mkdir()
    assert "tts/model.pt is missing" in real_data_available(str(tmp_path))
    (tmp_path / "checkpoints" / "tts").mkdir(parents=True)
    (tmp_path / "checkpoints" / "tts" / "model.pt").write_bytes(b"")
    assert real_data_available(str(tmp_path)) == ""


def test_random_batch_throughput_runs_every_stage_of_the_cpu_preset():
    from benchmarks.training import throughput

    rows = throughput("cpu", n_steps=1, seconds=0.5, log=lambda m: None)
    assert [r["stage"] for r in rows] == ["tts", "dubber", "emotion_expert", "vocoder"]
    assert all(r["samples_per_s"] > 0 for r in rows)
    assert "reading mu_ref" in rows[2]["what"]

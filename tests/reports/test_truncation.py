"""A model stopped by its wall-clock guard is named in every record, table, claims file and index built on it,
and what was built on it is marked as not comparable with the recorded run; a complete run changes nothing."""

from __future__ import annotations

import json
import time

import pandas as pd
import torch

from emodubber.config import StageConfig
from emodubber.reports.claims import claims_check, write_claims
from emodubber.reports.index import write_reports_readme
from emodubber.reports.notebook_setup import begin
from emodubber.reports.provenance import NOT_COMPARABLE, RunRecord, truncated_training
from emodubber.reports.tables import write_table
from emodubber.train.loop import Trainer
from tests.train.toy import Toy, toy_data, toy_loss


def _train(out, steps: int, budget_s: float = 0.0, slow_s: float = 0.0):
    def slow(trainer, step, logs):
        time.sleep(slow_s)
    torch.manual_seed(0)
    stage = StageConfig(steps=steps, batch_size=8, lr=1e-2, warmup_steps=2, val_every=0, ckpt_every=0,
                        time_budget_s=budget_s)
    return Trainer(Toy(), toy_loss, toy_data(), stage, out, seed=5, tensorboard=False, verbose=False,
                   callbacks=[slow] if slow_s else []).fit()


def _work(tmp_path, truncate: bool):
    work = tmp_path / ("truncated" if truncate else "complete")
    _train(work / "checkpoints" / "dubber", steps=6)
    tts = _train(work / "checkpoints" / "tts", steps=10_000 if truncate else 6, budget_s=0.2 if truncate else 0.0,
                 slow_s=0.05 if truncate else 0.0)
    # the learned judges write the same fields (metrics.sync_expert / emotion_judge_train)
    (work / "judges").mkdir()
    (work / "judges" / "sync_expert.json").write_text(json.dumps(
        {"steps": 40 if truncate else 300, "target_steps": 300, "truncated": truncate,
         "truncation_note": "truncated at step 40 of 300 (time_budget)" if truncate else ""}))
    return work, tts


def test_truncated_models_are_collected_from_the_work_dir(tmp_path):
    work, tts = _work(tmp_path, truncate=True)
    assert tts.truncated and tts.step < 10_000
    assert truncated_training(work) == {"tts": f"truncated at step {tts.step} of 10000 (time_budget)",
                                        "sync_expert": "truncated at step 40 of 300 (time_budget)"}
    complete, _ = _work(tmp_path, truncate=False)
    assert truncated_training(complete) == {} and truncated_training(tmp_path / "nowhere") == {}


def test_records_tables_claims_and_index_say_truncated_and_not_comparable(tmp_path):
    work, tts = _work(tmp_path, truncate=True)
    record = RunRecord(profile="smoke", seed=1).watch_training(work)
    assert record.as_dict()["extra"]["truncated"]["tts"] == tts.truncation_note
    table = pd.DataFrame({"WER": [12.5]}, index=["EmoDubber"])
    paths = write_table(table, "t4", tmp_path / "out", record, "Table 4")
    md = paths["md"].read_text()
    assert f"tts {tts.truncation_note}" in md and NOT_COMPARABLE in md
    claims = json.loads(write_claims(claims_check([{"claim": "c", "measured": "m", "holds": True}]), "t4",
                                     tmp_path / "out", record).read_text())
    assert claims["comparable"] is False and tts.truncation_note in claims["not_comparable"]
    assert claims["n_hold"] == 1  # the verdicts stay as measured; they are marked, not removed
    readme = write_reports_readme(tmp_path / "out", [], record.as_dict()).read_text()
    assert "Training truncated" in readme and readme.count(NOT_COMPARABLE) == 2  # the run, the claims file


def test_a_complete_run_writes_what_it_wrote_before(tmp_path):
    work, _ = _work(tmp_path, truncate=False)
    watched = RunRecord(profile="smoke", seed=1).watch_training(work).as_dict()
    plain = RunRecord(profile="smoke", seed=1).as_dict()
    assert "truncated" not in watched["extra"] and watched.keys() == plain.keys()
    table = pd.DataFrame({"WER": [12.5]}, index=["EmoDubber"])
    md = write_table(table, "t4", tmp_path / "out", watched, "Table 4")["md"].read_text()
    claims = json.loads(write_claims(claims_check([{"claim": "c", "measured": "m", "holds": True}]), "t4",
                                     tmp_path / "out", watched).read_text())
    assert NOT_COMPARABLE not in md and "comparable" not in claims


def test_a_notebook_record_watches_its_profiles_work_dir(tmp_path):
    work, tts = _work(tmp_path, truncate=True)
    s = begin("smoke", 7, str(work), str(tmp_path / "reports"), kind="table4")
    assert s.record.as_dict()["extra"]["truncated"]["tts"] == tts.truncation_note

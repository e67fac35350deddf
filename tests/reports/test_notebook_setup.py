from __future__ import annotations

import random

from emodubber.reports.notebook_setup import begin


def test_begin_loads_the_profile_makes_the_reports_dir_seeds_and_records(tmp_path):
    s = begin("smoke", 7, str(tmp_path / "work"), str(tmp_path / "out" / "smoke"), kind="table4")
    assert s.cfg.name == "smoke" and s.cfg.seed == 7 and s.seed == 7
    assert s.cfg.work_dir == tmp_path / "work"
    assert s.reports_dir == tmp_path / "out" / "smoke" and s.reports_dir.is_dir()
    assert s.record.as_dict()["kind"] == "table4" and s.record.as_dict()["seed"] == 7
    first = random.random()
    begin("smoke", 7, str(tmp_path / "work"), str(tmp_path / "out" / "smoke"))
    assert random.random() == first  # seeded the same way twice
    assert s.elapsed() >= 0


def test_begin_without_kind_keeps_no_record(tmp_path):
    s = begin("smoke", 1234, reports_dir=str(tmp_path))
    assert s.record is None and s.reports_dir == tmp_path and s.cfg.seed == 1234

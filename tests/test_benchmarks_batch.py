"""benchmarks/batch.py: ``dub_many`` throughput and the cold start, run with stand-in models; its report lines."""

from __future__ import annotations

import emodubber  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch starts its threads)
import pytest

from benchmarks.report import batch_section
from tests.conftest import needs_tools

RESULT = {"preset": "cpu", "checkpoints_used": "random-weight stand-ins of the 'cpu' preset", "guided": True,
          "seconds": 3.0, "steps": 10, "clips": 8, "done": 8, "failed": [], "load_s": 1.5, "wall_s": 24.0,
          "clips_per_min": 20.0, "rtf": 1.0, "fell_back": 0, "warm_total_s": 2.5, "warm_model_s": 1.25,
          "cold": {"process_s": 14.0, "timings": {"total": 10.0}}, "cold_over_warm_total": 4.0,
          "cold_over_warm_model": 8.0, "process_over_warm_model": 11.2}


def test_report_names_the_checkpoints_the_guidance_and_the_ratios():
    text = "\n".join(batch_section(RESULT))
    assert "random-weight stand-ins" in text and "guided (PNGM" in text
    assert "**20.0**" in text and "**4.0**" in text and "**8.0**" in text
    unguided = "\n".join(batch_section({**RESULT, "guided": False}))
    assert "unguided (the checkpoints hold no emotion expert)" in unguided
    assert batch_section(None) == [] and "Skipped: missing tools: flite" in "\n".join(
        batch_section({"skipped": "missing tools: flite"}))
    assert "Cold call failed: boom" in "\n".join(batch_section({**RESULT, "cold": {"error": "boom"}}))


@pytest.mark.slow
@needs_tools
def test_batch_benchmark_runs_with_standin_models(tmp_path):
    from benchmarks import batch

    res = batch.run("smoke", seconds=2.0, n_clips=2, steps=1, threads=1,
                    checkpoints=batch.write_standins(tmp_path / "ck", "smoke"), log=lambda m: None)
    assert res["done"] == 2 and res["failed"] == [] and res["guided"] and res["clips_per_min"] > 0
    assert "error" not in res["cold"], res["cold"]
    assert res["cold"]["process_s"] > res["cold"]["timings"]["total"] > 0 and res["cold_over_warm_model"] > 0
    assert "checkpoints given" in res["checkpoints_used"]
    assert "**" in "\n".join(batch_section(res))

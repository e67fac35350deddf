"""benchmarks/judges.py: seconds per clip per judge (the field judges included) and its report lines."""

from __future__ import annotations

import emodubber  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch starts its threads)
import pytest

from benchmarks.report import judges_section
from tests.conftest import needs_tools

RESULT = {"preset": "cpu", "clips": 8, "clip_seconds": 2.1, "threads": 1, "build_s": 3.0, "first_clip_s": {},
          "missing": {"lse": "no weights", "emotion": "no weights"},
          "s_per_clip": {"asr": 0.2, "per": 0.3, "secs": 0.1, "mcd": 0.05, "whisper": 1.2, "dnsmos": 0.55},
          "total_s_per_clip": 2.6, "projected_100_clips_s": 260.0, "field_s_per_clip": 1.75, "field_share": 0.73,
          "projected_100_clips_without_field_s": 65.0, "whisper_over_grammar_asr": 6.0, "n_with_error": 0,
          "peers": {"dnsmos": {"one_window_s_per_clip": 0.55, "speechmos_tiling_s_per_clip": 3.9,
                               "speechmos_run_s_per_clip": 2.5, "tiling_over_one_window": 7.1,
                               "run_over_one_window": 4.5, "max_abs_ovrl_diff": 0.08, "run_equals_tiling": True}}}


def test_report_lists_every_judge_slowest_first_with_the_projection_and_the_peers():
    text = "\n".join(judges_section(RESULT))
    rows = [line for line in text.splitlines() if line.startswith("| WER (Whisper") or line.startswith("| DNSMOS |")]
    assert rows[0].startswith("| WER (Whisper tiny.en) | 1.200 | 120 | 46% |")
    assert text.index("WER (Whisper") < text.index("| PER |") < text.index("| MCD |")  # slowest first
    assert "| other (reading the audio, bookkeeping) | 0.200 | 20 | 8% |" in text  # what no judge's timer holds
    assert "| **all** | **2.600** | **260** |" in text and "lse, emotion" in text
    assert "**6.0×**" in text and "**7.1**" in text and "**4.5**" in text and "0.080" in text
    assert judges_section(None) == [] and "Skipped: boom" in "\n".join(judges_section({"skipped": "boom"}))


@pytest.mark.slow
@needs_tools
def test_judges_benchmark_runs_every_judge_on_flite_clips(tmp_path):
    from benchmarks import judges

    why = judges.available()
    if why:
        pytest.skip(why)
    res = judges.run("smoke", n_clips=1, threads=1, log=lambda m: None, work=tmp_path / "work")
    assert set(res["missing"]) == {"lse", "emotion"}  # no trained weights in an empty work dir: listed, not timed
    assert {"asr", "asr_lm", "per", "secs", "mcd", "whisper", "dnsmos"} <= set(res["s_per_clip"])
    assert res["n_with_error"] == 1  # the two learned judges' reason, in the clip's error cell
    assert res["total_s_per_clip"] >= res["field_s_per_clip"] > 0
    assert res["projected_100_clips_s"] == pytest.approx(100 * res["total_s_per_clip"])
    d = res["peers"]["dnsmos"]
    assert d["run_equals_tiling"] and d["max_abs_ovrl_diff"] < 0.5
    assert "WER (Whisper tiny.en)" in "\n".join(judges_section(res))

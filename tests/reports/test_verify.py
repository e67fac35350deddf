"""Reproduction check: numbers that moved are named, host timings are not, tolerances are respected."""

from __future__ import annotations

import pandas as pd

from emodubber.cli import main
from emodubber.reports.verify import compare_reports, format_differences


def _write(d, name, df):
    d.mkdir(parents=True, exist_ok=True)
    df.to_csv(d / name, index=False)


def _table(wer_emo=15.67, seconds=12.0):
    return pd.DataFrame({"system": ["TTS", "EmoDubber"], "setting": [2, 2], "WER": [7.33, wer_emo],
                         "SECS": [73.76, 74.81], "seconds": [seconds, seconds * 2]})


def test_identical_tables_reproduce_and_timings_are_ignored(tmp_path):
    _write(tmp_path / "ref", "table4.csv", _table())
    _write(tmp_path / "new", "table4.csv", _table(seconds=99.0))  # a slower host
    n, diffs = compare_reports(tmp_path / "ref", tmp_path / "new")
    assert n == 1 and diffs == []
    assert "reproduced" in format_differences(n, diffs)


def test_timings_as_the_tables_print_them_are_ignored(tmp_path):
    # column names of data_summary.csv and dub_your_clip.csv: they measure the host, not the model
    def table(k, wer=7.33):
        return pd.DataFrame({"clip": ["a"], "feature CPU ms/clip": [211.4 * k], "model RTF (guided)": [0.23 * k],
                             "RTF (guided)": [0.44 * k], "decoder (s)": [0.16 * k], "phonemes": [18], "WER": [wer]})
    _write(tmp_path / "ref", "dub.csv", table(1.0))
    _write(tmp_path / "new", "dub.csv", table(3.0))  # a host three times slower
    assert compare_reports(tmp_path / "ref", tmp_path / "new")[1] == []
    _write(tmp_path / "new", "dub.csv", table(3.0, wer=8.0))
    assert [d.column for d in compare_reports(tmp_path / "ref", tmp_path / "new")[1]] == ["WER"]


def test_a_moved_number_is_named_with_its_row_and_column(tmp_path):
    _write(tmp_path / "ref", "table4.csv", _table())
    _write(tmp_path / "new", "table4.csv", _table(wer_emo=16.0))
    n, diffs = compare_reports(tmp_path / "ref", tmp_path / "new")
    assert [(d.column, d.reference, d.measured) for d in diffs] == [("WER", 15.67, 16.0)]
    assert "system=EmoDubber" in diffs[0].row
    text = format_differences(n, diffs)
    assert text.startswith("NOT reproduced") and "WER" in text
    # within a stated tolerance it reproduces
    assert compare_reports(tmp_path / "ref", tmp_path / "new", atol=0.5)[1] == []


def test_missing_tables_rows_and_columns_are_differences(tmp_path):
    _write(tmp_path / "ref", "table4.csv", _table())
    _write(tmp_path / "ref", "table5.csv", _table())
    _write(tmp_path / "new", "table4.csv", _table().drop(columns=["SECS"]).iloc[:1])
    _, diffs = compare_reports(tmp_path / "ref", tmp_path / "new")
    kinds = {(d.file, d.column, d.measured) for d in diffs}
    assert ("table5.csv", "-", "missing") in kinds and ("table4.csv", "SECS", "missing") in kinds
    assert any(d.file == "table4.csv" and "EmoDubber" in d.row and d.measured == "missing" for d in diffs)


def test_verify_command_exit_code_and_update(tmp_path, capsys):
    reports = tmp_path / "reports"
    _write(reports, "table4.csv", _table(wer_emo=16.0))
    profile = tmp_path / "p.yaml"
    profile.write_text(f"paths:\n  work_dir: {tmp_path / 'work'}\n  reports_dir: {reports}\n")
    ref = tmp_path / "ref"
    _write(ref, "table4.csv", _table())
    assert main(["verify", "--profile", str(profile), "--reference", str(ref)]) == 1
    assert "NOT reproduced" in capsys.readouterr().out
    assert main(["verify", "--profile", str(profile), "--reference", str(ref), "--update"]) == 0
    assert main(["verify", "--profile", str(profile), "--reference", str(ref)]) == 0


def test_host_speed_measures_torch_and_reads_the_corpus_throughput(tmp_path):
    import json

    from emodubber.reports.host import host_speed

    (tmp_path / "data_prep.json").write_text(json.dumps({"extra": {"prepare": {
        "corpus": {"n_built": 100, "seconds": 50.0}, "features": {"dubbing": {"extracted": 60}, "emotion": {"extracted": 40}},
        "features_seconds": 25.0}}}))
    s = host_speed(tmp_path)
    assert s["torch_gflops"] > 0 and s["corpus_clips_per_s"] == 2.0 and s["features_clips_per_s"] == 4.0
    assert "corpus_clips_per_s" not in host_speed(tmp_path / "nowhere")

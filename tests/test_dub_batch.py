"""``emodubber dub --batch`` / :func:`emodubber.dub.batch.dub_many`, the profile's sampling defaults, one-line refusals.

Reuses tests/test_dub.py's tiny random-weight checkpoints, rendered clip and flite reference (``kit``).
"""

from __future__ import annotations

import json
from pathlib import Path

import emodubber  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch starts its threads)
import pytest

from emodubber.cli import main
from emodubber.config import load_profile
from emodubber.dub.jobs import JobsFileError, read_jobs
from tests.conftest import needs_tools
from tests.test_dub import TEXT, _leftovers, _write_checkpoints, kit  # noqa: F401  (kit: the shared fixture)


def _csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


MALFORMED = {
    "missing": None,
    "empty": ("",),
    "no rows": ("text,video,reference,output",),
    "missing column": ("text,video,output", "bin blue,a.mp4,b.mp4"),
    "unknown column": ("text,video,reference,output,emtion", "bin blue,a.mp4,r.wav,b.mp4,sad"),
    "ragged row": ("text,video,reference,output", "bin, blue,a.mp4,r.wav,b.mp4"),
    "same output twice": ("text,video,reference,output", "bin,a.mp4,r.wav,o.mp4", "blue,b.mp4,r.wav,o.mp4"),
}


def test_malformed_jobs_file_is_exit_code_2_and_one_line(tmp_path, capsys):
    for name, lines in MALFORMED.items():
        p = tmp_path / f"{name.replace(' ', '_')}.csv"
        if lines is not None:
            _csv(p, *lines)
        with pytest.raises(JobsFileError):
            read_jobs(p)
        assert main(["dub", "--batch", str(p), "--checkpoint", str(tmp_path / "ck")]) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("emodubber dub: ") and "\n" not in err and p.name in err, f"{name}: {err}"
    ok = _csv(tmp_path / "ok.csv", "text,video,reference,output", "bin,a.mp4,r.wav,o.mp4")
    assert main(["dub", "--batch", str(ok), "--text", "x", "--checkpoint", str(tmp_path)]) == 2
    assert "--text" in capsys.readouterr().err


def test_jobs_file_columns_and_paths(tmp_path):
    p = _csv(tmp_path / "jobs.csv", "Output,text,video,reference,alpha,emotion",
             f"out/a.mp4,\"bin blue, now\",clips/a.mp4,{tmp_path / 'r.wav'},2,sad", "b.mp4,bin,b.mp4,r.wav,,")
    a, b = read_jobs(p)
    assert a.text == "bin blue, now" and a.video == tmp_path / "clips" / "a.mp4" and a.output == tmp_path / "out" / "a.mp4"
    assert a.reference == tmp_path / "r.wav" and a.emotion == "sad" and a.alpha == "2" and a.beta is None
    assert b.emotion is None and b.alpha is None and a.line == 2 and b.line == 3 and b.label == "line 3"


def test_defaults_are_the_profiles_eval_values(tmp_path):
    from emodubber.dub.engine import DubModels, sampling_defaults
    from emodubber.dub.inputs import find_checkpoints
    from emodubber.dub.pipeline import sampling_settings

    ck = _write_checkpoints(tmp_path / "ck")
    (ck / "dubber" / "summary.json").write_text(json.dumps({"stage": "dubber", "profile": "cpu"}))
    ev = load_profile("cpu", local=None).eval
    d = sampling_defaults(find_checkpoints(ck))
    assert (d.temperature, d.n_steps, d.gamma, d.vocoder) == (ev.temperature, ev.n_steps, ev.gamma, ev.vocoder)
    assert "'cpu'" in d.source and ev.temperature == 0.3  # not Matcha's 0.667
    m = DubModels(None, None, None, "griffinlim", 32, defaults=d)
    vals, note = sampling_settings(m)
    assert vals == {"temperature": ev.temperature, "steps": ev.n_steps, "gamma": ev.gamma} and "'cpu'" in note
    vals, note = sampling_settings(m, temperature=0.5, steps=2)  # explicit values win
    assert vals == {"temperature": 0.5, "steps": 2, "gamma": ev.gamma} and "given: temperature 0.5, steps 2" in note
    (ck / "dubber" / "summary.json").unlink()
    assert "names no profile" in sampling_defaults(find_checkpoints(ck)).source


@pytest.mark.slow
@needs_tools
def test_batch_of_three_with_a_missing_video(kit, tmp_path, capsys, monkeypatch):  # noqa: F811
    import resemblyzer

    from emodubber.dub import engine
    from emodubber.dub.batch import dub_many, summary_table
    from emodubber.text.g2p import cmu_dict

    loads = {"models": 0, "encoder": 0}
    real_load, real_enc = engine.load_models, resemblyzer.VoiceEncoder

    def counted(*a, **k):
        loads["models"] += 1
        return real_load(*a, **k)

    class Encoder(real_enc):
        def __init__(self, *a, **k):
            loads["encoder"] += 1
            super().__init__(*a, **k)

    monkeypatch.setattr("emodubber.dub.batch.load_models", counted)
    monkeypatch.setattr(resemblyzer, "VoiceEncoder", Encoder)
    misses = cmu_dict.cache_info().misses

    out = tmp_path / "out"
    jobs = [{"text": TEXT, "video": kit["video"], "reference": kit["ref"], "output": out / "a.mp4"},
            {"text": TEXT, "video": tmp_path / "nope.mp4", "reference": kit["ref"], "output": out / "b.mp4",
             "emotion": "sad", "alpha": 2},
            {"text": TEXT, "video": kit["video"], "reference": kit["ref"], "output": out / "c.mp4", "emotion": "angry",
             "alpha": "3", "beta": 0.75}]
    res = dub_many(jobs, kit["ck"], temperature=0.5, show_progress=False)
    assert [r.ok for r in res] == [True, False, True]
    assert loads["models"] == 1 and loads["encoder"] <= 1 and cmu_dict.cache_info().misses - misses <= 1  # once each
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "c.mp4"] and _leftovers(out) == []
    assert res[1].kind == "video-missing" and "nope.mp4" in res[1].error and res[1].result is None
    err = capsys.readouterr().err
    assert "failed (video-missing)" in err and "nope.mp4" in err
    ev = load_profile("smoke", local=None).eval  # the kit's checkpoints name the smoke profile
    for r in (res[0], res[2]):
        s = r.result.settings
        assert (s["steps"], s["gamma"], s["temperature"]) == (ev.n_steps, ev.gamma, 0.5)
        assert s["sources"]["temperature"] == "given" and "'smoke'" in s["sources"]["steps"]
        assert s["vocoder"] == ev.vocoder
    assert res[2].result.timings["guidance"] > 0 and res[0].result.timings["guidance"] == 0
    table = summary_table(res).splitlines()
    assert table[0].split()[:3] == ["rows", "done", "failed"] and table[1].split()[:3] == ["3", "2", "1"]
    assert any(line.startswith("failed ") and "nope.mp4" in line for line in table)


@pytest.mark.slow
@needs_tools
def test_cli_batch_reports_failed_rows_with_exit_code_1(kit, tmp_path, capsys):  # noqa: F811
    jobs = _csv(tmp_path / "jobs.csv", "text,video,reference,output,emotion,alpha",
                f"{TEXT},missing.mp4,{kit['ref']},a.mp4,,",
                f"{TEXT},{kit['video']},{kit['ref']},b.mp4,bored,1",
                f"{TEXT},{kit['video']},{kit['ref']},c.mp4,sad,lots")
    assert main(["dub", "--batch", str(jobs), "--checkpoint", str(kit["ck"])]) == 1
    cap = capsys.readouterr()
    assert cap.out.splitlines()[1].split()[:3] == ["3", "0", "3"]
    assert "line 2: failed (video-missing)" in cap.err and "'bored'" in cap.err and "'lots' is not a number" in cap.err
    assert "Traceback" not in cap.err and sorted(p.name for p in tmp_path.iterdir()) == ["jobs.csv"]


@pytest.mark.slow
@needs_tools
def test_bad_values_are_one_line_naming_value_and_choices(kit, tmp_path, capsys):  # noqa: F811
    base = ["dub", "--text", TEXT, "--video", str(kit["video"]), "--reference", str(kit["ref"]),
            "--checkpoint", str(kit["ck"]), "--out", str(tmp_path / "o.mp4")]
    for extra, words in ((["--emotion", "bored", "--alpha", "1"], ("'bored'", "angry", "surprised")),
                         (["--alpha", "-1"], ("alpha", "-1.0", ">= 0")), (["--beta", "-0.5"], ("beta", "-0.5")),
                         (["--gamma", "-2"], ("gamma", "-2.0")), (["--temperature", "-1"], ("temperature",))):
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and all(w in err for w in words), err
    assert list(tmp_path.iterdir()) == []

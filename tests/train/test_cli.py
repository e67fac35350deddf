"""``emodubber train``: registered sub-command, one-line errors with exit codes."""

from __future__ import annotations

from emodubber.cli import build_parser, main


def test_train_subcommand_is_registered():
    args = build_parser().parse_args(["train", "dubber", "--profile", "smoke", "--resume", "--set", "train.dubber.steps=5"])
    assert (args.stage, args.profile, args.resume, args.set) == ("dubber", "smoke", True, ["train.dubber.steps=5"])


def test_bad_profile_and_missing_corpus_exit_2_with_one_line(tmp_path, capsys):
    assert main(["train", "tts", "--profile", "no-such-profile"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("emodubber train: unknown profile") and "\n" not in err
    assert main(["train", "tts", "--profile", "smoke", "--set", f"paths.work_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "build the corpus first" in err and "\n" not in err


def test_selfcheck_runs_in_process(tmp_path, capsys):
    assert main(["train", "selfcheck", "--out", str(tmp_path), "--steps", "4"]) == 0
    assert "selfcheck: done at step 4" in capsys.readouterr().out
    # resume past the end: nothing to do, still fine
    assert main(["train", "selfcheck", "--out", str(tmp_path), "--steps", "4", "--resume"]) == 0

from emodubber.cli import build_parser, main


def test_evaluate_and_judges_commands_register():
    p = build_parser()
    args = p.parse_args(["evaluate", "--generated", "x", "--setting", "2", "--metrics", "wer", "per"])
    assert args.setting == 2 and args.metrics == ["wer", "per"]
    assert p.parse_args(["judges", "validate"]).action == "validate"


def test_missing_generated_dir_is_a_user_error(tmp_path, capsys):
    assert main(["evaluate", "--profile", "smoke", "--generated", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err

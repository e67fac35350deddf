import json

import pytest

from emodubber.cli import main
from tests.conftest import needs_tools


def test_prepare_is_registered(capsys):
    with pytest.raises(SystemExit):
        main(["prepare", "--help"])
    assert "--profile" in capsys.readouterr().out


def test_prepare_bad_root_is_one_line(tmp_path, capsys):
    rc = main(["prepare", "--profile", "smoke", "--set", f"paths.work_dir={tmp_path}", "--set", "corpus.kind=grid",
               "--set", f"corpus.root={tmp_path / 'nowhere'}"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "nowhere" in err and "alignments/sN/*.align" in err and len(err.splitlines()) == 1


def test_prepare_bad_set(capsys):
    assert main(["prepare", "--set", "novalue"]) == 2
    assert "key=value" in capsys.readouterr().err


@pytest.mark.slow
@needs_tools
def test_prepare_grid_end_to_end(tmp_path, capsys):
    from tests.fixtures.tiny_corpus import build_tiny_grid

    root = build_tiny_grid(tmp_path / "GRID", speakers=("s1",))
    args = ["prepare", "--profile", "smoke", "--workers", "1", "--set", f"paths.work_dir={tmp_path / 'w'}",
            "--set", "corpus.kind=grid", "--set", f"corpus.root={root}", "--set", "corpus.heldout_voices=[]"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["corpus"]["n_clips"] == 3 and out["corpus"]["skipped"] == 1
    assert out["features"]["dubbing"]["extracted"] == 3
    assert main(args) == 0  # idempotent: everything cached the second time
    again = json.loads(capsys.readouterr().out)
    assert again["features"]["dubbing"] == {"clips": 3, "extracted": 0, "cached": 3, "skipped": 0}

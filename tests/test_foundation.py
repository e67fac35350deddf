"""The foundation: importability without tools, clear errors, environment files that agree, the CLI."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import emodubber
from emodubber.tools import MissingToolError, require_binary, require_module
from emodubber.utils import atomic_path, atomic_write_json, git_commit

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _norm(req: str) -> str:
    return req.replace(" ", "").lower()


def test_version():
    assert re.match(r"^\d+\.\d+\.\d+", emodubber.__version__)


def test_import_without_path_tools_or_gpu():
    """`import emodubber` (and its config) works with an empty PATH and no CUDA."""
    code = "import emodubber, emodubber.config, emodubber.cli, emodubber.tools; print(emodubber.__version__)"
    env = {"PATH": "", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == emodubber.__version__


def test_missing_tool_names_the_tool_and_the_fix():
    with pytest.raises(MissingToolError, match=r"'surely-not-a-tool-xyz'.*PATH"):
        require_binary("surely-not-a-tool-xyz")
    with pytest.raises(MissingToolError, match=r"apt-get install ffmpeg"):
        import os
        old = os.environ["PATH"]
        os.environ["PATH"] = ""
        try:
            require_binary("ffmpeg")
        finally:
            os.environ["PATH"] = old
    with pytest.raises(MissingToolError, match=r"pip install"):
        require_module("surely_not_a_module_xyz", "a test")


def test_pyproject_and_environment_yml_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra, items in project["optional-dependencies"].items():
        reqs += [r for r in items if not r.startswith("emodubber")]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert sorted(map(_norm, reqs)) == sorted(map(_norm, pip_section))
    py = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert py == "python=3.11"


def test_torch_trio_pinned_together():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {"torch==2.14.1", "torchaudio==2.11.0", "torchvision==0.29.1", "setuptools<81"} <= set(deps)


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines()
          if ln.strip() and not ln.startswith("#") and not ln.startswith(("set ", "cd "))]
    assert ci == ["make test"]
    assert "make test" in readme and "make reproduce" in readme


def test_make_verify_runs_the_reproduction_check():
    # Under `make test` this runs as a sub-make: drop the parent's MAKEFLAGS/MAKELEVEL, which make it print
    # "Entering/Leaving directory" lines around the recipe.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    make = subprocess.run(["make", "--no-print-directory", "-n", "verify", "PROFILE=smoke"],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert make.returncode == 0, make.stderr
    assert make.stdout.strip().splitlines()[-1].endswith("-m emodubber reproduce --profile smoke --check")
    assert "make verify" in (ROOT / "README.md").read_text()


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_cli_reproduce_help_and_bad_profile():
    out = subprocess.run([sys.executable, "-m", "emodubber", "reproduce", "--help"], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0 and "--only" in out.stdout and "--from" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "emodubber", "reproduce", "--profile", "nope"], capture_output=True,
                         text=True, cwd=ROOT)
    assert bad.returncode == 2
    assert "unknown profile 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_atomic_write_gives_normal_permissions(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        target = atomic_write_json(tmp_path / "x.json", {})
    finally:
        os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_warp_axis_is_the_same_warp_on_any_axis_and_keeps_dtype():
    import numpy as np

    from emodubber.utils import warp_axis

    x = np.random.default_rng(0).random((7, 40))
    assert np.allclose(warp_axis(x, 0.9, axis=1), warp_axis(x.T, 0.9, axis=0).T)
    assert np.array_equal(warp_axis(x, 1.0, axis=1), x)
    assert warp_axis(x.astype(np.float32), 1.1).dtype == np.float32
    ramp = np.arange(40.0)[None].repeat(2, 0)  # a linear ramp: out[f] = f / factor inside the edges
    assert np.allclose(warp_axis(ramp, 1.25, axis=1)[0, :30], np.arange(30) / 1.25)


def test_git_commit_is_dirty_for_code_but_not_for_a_runs_reports(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "table.md").write_text("old\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    assert not git_commit(tmp_path).endswith("+dirty")
    (tmp_path / "reports" / "table.md").write_text("new\n")  # what a run writes
    assert not git_commit(tmp_path).endswith("+dirty")
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path).endswith("+dirty")

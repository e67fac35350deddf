"""Shared fixtures: tiny configs on CPU, a temporary work dir, tool availability."""

from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before any test imports torch


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


needs_tools = pytest.mark.skipif(
    not all(have(t) for t in ("flite", "ffmpeg")),
    reason="flite/ffmpeg not installed (make setup installs them)",
)


@pytest.fixture
def smoke_cfg(tmp_path):
    """The smoke profile with its work and reports dirs moved into a temporary directory."""
    from emodubber.config import load_profile

    return load_profile("smoke", overrides={"paths.work_dir": str(tmp_path / "work"),
                                            "paths.reports_dir": str(tmp_path / "reports")}, local=None)

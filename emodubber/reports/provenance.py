"""Provenance of every number in ``reports/``: profile, seed, git commit, machine, wall time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from emodubber import __version__
from emodubber.utils import git_commit, machine_info, now_iso

__all__ = ["RunRecord", "now_iso"]


@dataclass
class RunRecord:
    """What produced a set of results; ``as_dict()`` is what goes to JSON beside them."""

    profile: str
    seed: int
    kind: str = "run"
    commit: str = field(default_factory=git_commit)
    version: str = __version__
    machine: dict[str, Any] = field(default_factory=machine_info)
    started: str = field(default_factory=now_iso)
    ended: str | None = None
    wall_time_s: float | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"
    extra: dict[str, Any] = field(default_factory=dict)
    _t0: float = field(default_factory=time.perf_counter, repr=False)

    def finish(self, status: str = "ok") -> "RunRecord":
        self.ended = now_iso()
        self.wall_time_s = round(time.perf_counter() - self._t0, 2)
        self.status = status
        return self

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        return d

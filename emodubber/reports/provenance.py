"""Provenance of every number in ``reports/``: profile, seed, git commit, machine, wall time, and whether the
models behind it trained for all their steps.

Training is defined by steps; the wall-clock cap of a stage (``time_budget_s``) is only a guard. When it fires, the
stage's record says ``"truncated at step N of M (time_budget)"`` (the trainer's ``checkpoints/**/result.json``,
the learned judges' ``judges/*.json``), :func:`truncated_training` collects those notes, and a :class:`RunRecord`
that watches the profile's work directory carries them into every table, claims file and run record written with
it, marked as not comparable with the recorded run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from emodubber import __version__
from emodubber.utils import git_commit, machine_info, now_iso

__all__ = ["RunRecord", "now_iso", "truncated_training", "not_comparable", "NOT_COMPARABLE"]

#: what a truncated model makes of the numbers built on it
NOT_COMPARABLE = ("not comparable with the recorded run: a model behind these numbers stopped on its wall-clock "
                  "guard before its training steps")


def _note(path: Path) -> str:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return ""
    if not isinstance(d, dict) or not d.get("truncated"):
        return ""
    return str(d.get("truncation_note") or f"truncated at step {d.get('step', d.get('steps', '?'))} of "
               f"{d.get('target_steps', '?')}")


def truncated_training(work_dir: str | Path) -> dict[str, str]:
    """``{model: "truncated at step N of M (time_budget)"}`` for every model of a profile's ``work_dir`` whose
    training stopped on its wall-clock guard (empty: every model trained for all its steps). ``model`` is the
    checkpoint folder (``tts``, ``baselines/no_lcl``) or the judge (``sync_expert``, ``emotion_judge``)."""
    work = Path(work_dir)
    out: dict[str, str] = {}
    ckpt = work / "checkpoints"
    for p in sorted(ckpt.rglob("result.json")) if ckpt.is_dir() else []:
        if note := _note(p):
            out[p.parent.relative_to(ckpt).as_posix()] = note
    judges = work / "judges"
    for p in sorted(judges.glob("*.json")) if judges.is_dir() else []:
        if note := _note(p):
            out[p.stem] = note
    return out


def not_comparable(record: Mapping[str, Any] | None) -> str:
    """:data:`NOT_COMPARABLE` with the truncated models of a run record (its dict), or ``""`` when every model
    behind it trained for all its steps."""
    truncated = ((record or {}).get("extra") or {}).get("truncated") or {}
    return f"{NOT_COMPARABLE} ({'; '.join(f'{k} {v}' for k, v in truncated.items())})" if truncated else ""


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
    _work_dir: str | None = field(default=None, repr=False)

    def watch_training(self, work_dir: str | Path) -> "RunRecord":
        """Report the truncated models of ``work_dir`` (:func:`truncated_training`) in ``extra["truncated"]``,
        read afresh each time the record is written (a stage truncated after the record began counts too)."""
        self._work_dir = str(work_dir)
        return self

    def finish(self, status: str = "ok") -> "RunRecord":
        self.ended = now_iso()
        self.wall_time_s = round(time.perf_counter() - self._t0, 2)
        self.status = status
        return self

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        if self._work_dir is not None:
            extra = {k: v for k, v in self.extra.items() if k != "truncated"}
            if truncated := truncated_training(self._work_dir):
                extra["truncated"] = truncated
            d["extra"] = extra
        return d

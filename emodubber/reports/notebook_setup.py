"""The first cell of every notebook: profile, reports directory, torch threads, seeds and the run record.

Importing this module imports :mod:`emodubber`, which sets ``OMP_WAIT_POLICY=PASSIVE`` unless it is set: import
it before torch (spinning OpenMP threads make torch many times slower on shared cores). The papermill runner
(:mod:`emodubber.reports.suite`) injects ``PROFILE``, ``SEED``, ``WORK_DIR`` and ``REPORTS_DIR``; run by hand,
the notebook's own parameters cell gives them, and the same call does the same::

    from emodubber.reports.notebook_setup import begin  # first: before torch starts its threads

    session = begin(PROFILE, SEED, WORK_DIR, REPORTS_DIR, THREADS, kind="table4")
    cfg, reports_dir, record = session.cfg, session.reports_dir, session.record
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from emodubber.config import ProfileConfig, load_profile
from emodubber.reports.provenance import RunRecord
from emodubber.utils import seed_everything

__all__ = ["Session", "begin"]


@dataclass
class Session:
    """What a notebook's set-up cell produced: the profile (``cfg``), where its files go, its run record."""

    cfg: ProfileConfig
    reports_dir: Path
    record: RunRecord | None
    seed: int
    t_start: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        """Seconds since :func:`begin`."""
        return time.perf_counter() - self.t_start


def begin(profile: str, seed: int, work_dir: str = "", reports_dir: str = "", threads: int | None = None,
          kind: str = "") -> Session:
    """Load ``profile`` (seed = ``seed``, ``paths.work_dir`` = ``work_dir`` when given), make the reports directory
    (``reports_dir`` or the profile's), seed python / numpy / torch, and start a :class:`RunRecord` of ``kind``.

    ``threads``: torch CPU threads for the notebook's own work (0: the profile's ``train.threads``; None: leave
    them, e.g. when a training stage sets its own). ``kind=""``: no run record (the overview).
    """
    t_start = time.perf_counter()
    overrides: dict[str, object] = {"seed": seed}
    if work_dir:
        overrides["paths.work_dir"] = work_dir
    cfg = load_profile(profile, overrides=overrides)
    out = Path(reports_dir) if reports_dir else cfg.reports_dir
    out.mkdir(parents=True, exist_ok=True)
    if threads is not None:
        torch.set_num_threads(threads or cfg.train.threads)
    seed_everything(seed)
    # the record names any model of the profile that its time guard truncated (and so does every table written with it)
    record = RunRecord(profile=cfg.name, seed=seed, kind=kind).watch_training(cfg.work_dir) if kind else None
    return Session(cfg, out, record, seed, t_start)

"""Many clips dubbed with one load of the models: :func:`dub_many` and ``emodubber dub --batch jobs.csv``.

The models (and the sampling defaults of the checkpoint's profile) load once; each job then runs
:func:`emodubber.dub.pipeline.dub`, so every output is written atomically and a failed job leaves no file.
A failing job is reported with its reason and the batch carries on; :func:`summary_table` ends the run.
Each row chooses lips or text on its own (``alignment``, :mod:`emodubber.dub.lipcheck`); the summary counts
the rows whose lips were too still and fell back to the text's timing.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from emodubber.dub.engine import DubModels, load_models
from emodubber.dub.inputs import DubInputError, find_checkpoints
from emodubber.dub.jobs import Job, as_job
from emodubber.dub.lipcheck import check_alignment
from emodubber.dub.pipeline import DubResult, check_options, dub, sampling_settings
from emodubber.utils import progress

__all__ = ["JobResult", "dub_many", "models_for", "summary_table"]


@dataclass
class JobResult:
    """One job's outcome: ``result`` when it succeeded, ``kind``/``error`` (one line) when it failed."""

    job: Job
    result: DubResult | None = None
    kind: str | None = None  # DubInputError.kind, or the exception's type name
    error: str | None = None
    wall: float = 0.0  # seconds this job took

    @property
    def ok(self) -> bool:
        return self.result is not None


def _number(v: Any, name: str, default: float) -> float:
    if v is None:
        return default
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise DubInputError("bad-option", f"{name} {v!r} is not a number") from None
    if not math.isfinite(x):
        raise DubInputError("bad-option", f"{name} must be a finite number >= 0, got {v!r}")
    return x


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def models_for(jobs: list[Job], checkpoint: str | Path, alpha: float = 0.0, beta: float = 0.0, vocoder: str = "auto",
               roi_size: int | None = None, check_version: bool = True) -> DubModels:
    """The models of ``checkpoint`` for these jobs, loaded once (the emotion expert when a job guides and it
    exists: without it only the guided jobs fail)."""
    layout = find_checkpoints(checkpoint)
    guided = False
    for j in jobs:
        try:
            guided = guided or _number(j.alpha, "alpha", alpha) > 0 or _number(j.beta, "beta", beta) > 0
        except DubInputError:
            pass  # that job fails on its own
    return load_models(layout, need_expert=guided and layout.emotion_expert is not None, vocoder=vocoder,
                       roi_size=roi_size, check_version=check_version)


def dub_many(jobs: Iterable[Job | Mapping[str, Any]], checkpoint: str | Path | None = None, *,
             models: DubModels | None = None, emotion: str | None = None, alpha: float = 0.0, beta: float = 0.0,
             gamma: float | None = None, steps: int | None = None, temperature: float | None = None,
             seed: int = 1234, vocoder: str = "auto", roi_size: int | None = None, threads: int | None = None,
             check_version: bool = True, show_progress: bool = True, log=None, alignment: str = "auto"
             ) -> list[JobResult]:
    """Dub every job (a :class:`Job` or a mapping with the jobs file's columns) with models loaded once.

    ``emotion``/``alpha``/``beta`` are used where a job leaves them empty; ``gamma``, ``steps``,
    ``temperature`` (``None``: the profile's ``eval`` values), ``seed`` and ``vocoder`` apply to every job
    (see :func:`emodubber.dub.pipeline.dub`); ``alignment`` is used where a job leaves it empty. Returns one
    :class:`JobResult` per job, in order; a job that fails is reported to ``log`` (a print-like callable; the
    progress bar's when ``None``) and skipped.
    Raises :class:`DubInputError` only when no job can run: a bad option, or unusable checkpoints.
    """
    jobs = [as_job(j) for j in jobs]
    check_options(emotion, alpha, beta, gamma, steps, temperature, need_emotion=False)  # a row may name it
    check_alignment(alignment)
    if threads:
        torch.set_num_threads(int(threads))
    if models is None:
        if checkpoint is None:
            raise DubInputError("checkpoint-missing", "give the checkpoints folder (checkpoint=…) or models=…")
        models = models_for(jobs, checkpoint, alpha, beta, vocoder, roi_size, check_version)
    _, note = sampling_settings(models, temperature, steps, gamma)
    bar = progress(jobs, desc="dubbing", unit="clip", disable=not show_progress, file=sys.stderr)
    say = log or (lambda m: bar.write(m, file=sys.stderr))
    say(f"note: {note}")
    for n in models.notes:
        say(f"note: {n}")
    shared = set(models.notes) | {note}
    out: list[JobResult] = []
    for job in bar:
        t0 = time.perf_counter()
        try:
            a, b = _number(job.alpha, "alpha", alpha), _number(job.beta, "beta", beta)
            res = dub(job.text, job.video, job.reference, None, job.output, emotion=job.emotion or emotion, alpha=a,
                      beta=b, gamma=gamma, steps=steps, temperature=temperature, seed=seed, models=models,
                      alignment=job.alignment or alignment)
            out.append(JobResult(job, res, wall=time.perf_counter() - t0))
            for n in res.notes:
                if n not in shared:
                    say(f"{job.label}: note: {n}")
        except Exception as e:  # noqa: BLE001 - one job's failure, whatever it is, must not stop the others
            kind = e.kind if isinstance(e, DubInputError) else type(e).__name__
            out.append(JobResult(job, kind=kind, error=_one_line(e), wall=time.perf_counter() - t0))
            say(f"{job.label}: failed ({kind}): {_one_line(e)}")
    bar.close()
    return out


def summary_table(results: list[JobResult], load_seconds: float | None = None) -> str:
    """Rows done and failed, rows that fell back to the text's timing (lips too still), dubbed seconds, wall
    seconds and real-time factor, then every fallback's measure and every failure's reason."""
    done = [r for r in results if r.ok]
    fell = [r for r in done if r.result.fell_back]
    dubbed = sum(r.result.seconds for r in done)
    wall = sum(r.wall for r in results)
    rtf = f"{wall / dubbed:.2f}" if dubbed else "-"
    head = ["rows", "done", "failed", "fell back", "dubbed [s]", "wall [s]", "RTF"]
    vals = [str(len(results)), str(len(done)), str(len(results) - len(done)), str(len(fell)), f"{dubbed:.2f}",
            f"{wall:.2f}", rtf]
    w = [max(len(h), len(v)) for h, v in zip(head, vals)]
    lines = ["  ".join(h.rjust(n) for h, n in zip(head, w)), "  ".join(v.rjust(n) for v, n in zip(vals, w))]
    if load_seconds is not None:
        lines.append(f"(models loaded once in {load_seconds:.2f} s, not in the RTF)")
    for r in fell:
        lines.append(f"fell back {r.job.label}: lips too still (mouth motion {r.result.lip_motion:.4f}), "
                     f"timed by the text")
    for r in results:
        if not r.ok:
            lines.append(f"failed {r.job.label}: {r.kind}: {r.error}")
    return "\n".join(lines)

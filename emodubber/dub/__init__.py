"""Dub your own clip: ``emodubber dub`` and :func:`dub`.

``dub(text, video, reference, checkpoint, out, emotion=…, alpha=…, beta=…)`` returns a :class:`DubResult`
(paths, waveform, mel, per-stage timings, notes). Inputs are checked in :mod:`emodubber.dub.inputs`
(one-line :class:`DubInputError` per problem; the checkpoint directory layout is documented there), the
model stages are timed in :mod:`emodubber.dub.engine`, the flow is in :mod:`emodubber.dub.pipeline`.
``dub_many(jobs, checkpoint)`` (:mod:`emodubber.dub.batch`) dubs many clips with the models loaded once.
Importing this package loads no torch (the CLI imports it to register the sub-command).
"""

from __future__ import annotations

from emodubber.dub.cli import register
from emodubber.dub.inputs import DubInputError

__all__ = ["dub", "dub_many", "DubResult", "DubInputError", "prepare_models", "register"]


def __getattr__(name: str):
    if name in ("dub", "DubResult", "prepare_models"):
        from emodubber.dub import pipeline

        return getattr(pipeline, name)
    if name == "dub_many":
        from emodubber.dub import batch

        return batch.dub_many
    raise AttributeError(f"module 'emodubber.dub' has no attribute {name!r}")

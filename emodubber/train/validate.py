"""Refuse training inputs that cannot work, before the first step, with a message naming the problem.

Checked: an empty dataset; a speaker id outside the speaker table; an emotion id outside
:data:`emodubber.config.EMOTIONS`; a phoneme id outside the symbol table; mel / video lengths that break
T = 4F; durations that do not sum to the mel length. :func:`validate_dataset` scans the set (or its
first ``max_items`` clips) through the collate function, so the same checks see what training sees;
:func:`make_batch_checker` returns the per-batch check the loop runs on every batch afterwards.
"""

from __future__ import annotations

from typing import Any, Callable

from emodubber.batch import DubBatch, ShapeError
from emodubber.config import EMOTIONS, ConfigError

__all__ = ["TrainInputError", "check_dataset_nonempty", "check_batch", "make_batch_checker", "validate_dataset"]


class TrainInputError(ConfigError):
    """Training inputs that cannot work (empty set, id out of range, length mismatch); names the problem."""


def check_dataset_nonempty(dataset: Any, what: str = "dataset") -> None:
    if dataset is None:
        raise TrainInputError(f"{what} is missing")
    try:
        n = len(dataset)
    except TypeError:
        raise TrainInputError(f"{what} has no length (a map-style dataset is required)") from None
    if n == 0:
        raise TrainInputError(f"{what} is empty (0 clips): build the corpus or check the split")


def check_batch(batch: Any, *, n_speakers: int | None = None, n_vocab: int | None = None,
                n_emotions: int = len(EMOTIONS), mel_per_frame: int = 4, need_video: bool = False,
                what: str = "") -> None:
    """Raise :class:`TrainInputError` if a :class:`DubBatch` breaks the contract (other types pass)."""
    if not isinstance(batch, DubBatch):
        return
    w = f"{what}: " if what else ""
    try:
        batch.check(mel_per_frame)
    except ShapeError as e:  # BatchError is one; the T = 4F check raises it directly
        raise TrainInputError(f"{w}{e}") from None
    if need_video and batch.lip is None:
        raise TrainInputError(f"{w}clips {batch.clip_ids[:3]}… have no video but this stage needs lip frames")
    if batch.lip is not None and batch.lip_lengths is not None and batch.lip.shape[1] < int(batch.lip_lengths.max()):
        raise TrainInputError(f"{w}lip tensor has {batch.lip.shape[1]} frames but lip_lengths says "
                              f"{int(batch.lip_lengths.max())}")
    if batch.mel.shape[-1] < int(batch.mel_lengths.max()):
        raise TrainInputError(f"{w}mel tensor has {batch.mel.shape[-1]} frames but mel_lengths says "
                              f"{int(batch.mel_lengths.max())}")
    for field_, limit, name in ((batch.speaker_ids, n_speakers, "speaker id"),
                                (batch.emotion_ids, n_emotions, "emotion id")):
        if limit is None or field_ is None:
            continue
        for i, cid in enumerate(batch.clip_ids):
            v = int(field_[i])
            if not 0 <= v < limit:
                raise TrainInputError(f"{w}clip {cid}: {name} {v} is out of range [0, {limit})")
    if n_vocab is not None:
        for i, cid in enumerate(batch.clip_ids):
            P = int(batch.phoneme_lengths[i])
            ids = batch.phonemes[i, :P]
            if P == 0:
                raise TrainInputError(f"{w}clip {cid}: no phonemes")
            if int(ids.max()) >= n_vocab or int(ids.min()) < 0:
                raise TrainInputError(f"{w}clip {cid}: phoneme id {int(ids.max())} is out of range [0, {n_vocab})")


def make_batch_checker(**kwargs: Any) -> Callable[[Any], None]:
    """``check(batch)`` with the limits bound (what :class:`~emodubber.train.loop.Trainer` calls per batch)."""

    def check(batch: Any) -> None:
        check_batch(batch, **kwargs)

    return check


def validate_dataset(dataset: Any, collate_fn: Callable | None, *, what: str = "dataset", max_items: int | None = None,
                     batch_size: int = 16, **limits: Any) -> int:
    """Scan (the first ``max_items`` clips of) ``dataset`` through ``collate_fn`` and check every batch.

    Returns the number of clips checked. Raises :class:`TrainInputError` naming the clip and field.
    """
    check_dataset_nonempty(dataset, what)
    n = len(dataset) if max_items is None else min(len(dataset), max_items)
    for s in range(0, n, batch_size):
        items = [dataset[i] for i in range(s, min(n, s + batch_size))]
        batch = collate_fn(items) if collate_fn is not None else items
        check_batch(batch, what=what, **limits)
    return n

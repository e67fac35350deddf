"""Shape checks with errors that name the tensor, the dimension and the rule (T = 4F)."""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["ShapeError", "expect_ndim", "expect_dim", "expect_t_equals_4f", "MEL_PER_FRAME"]

#: mel frames per video frame under the fixed contract (16000 / 25 / 160).
MEL_PER_FRAME = 4


class ShapeError(ValueError):
    """A tensor whose shape breaks the model's contract; the message says which and why."""


def expect_ndim(t: torch.Tensor, name: str, ndims: int | Sequence[int], layout: str) -> None:
    """Raise :class:`ShapeError` unless ``t.dim()`` is one of ``ndims`` (``layout`` e.g. ``"[B, P]"``)."""
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if not isinstance(t, torch.Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor shaped {layout}, got {type(t).__name__}")
    if t.dim() not in ndims:
        raise ShapeError(f"{name} must be shaped {layout}, got {tuple(t.shape)}")


def expect_dim(t: torch.Tensor, name: str, dim: int, size: int, what: str) -> None:
    """Raise :class:`ShapeError` unless ``t.shape[dim] == size`` (``what`` names the dimension)."""
    if t.shape[dim] != size:
        raise ShapeError(f"{name} has {what} = {t.shape[dim]} (dim {dim} of {tuple(t.shape)}), expected {size}")


def expect_t_equals_4f(mel_frames: int, video_frames: int, name: str = "mel", clip: str = "",
                       mel_per_frame: int = MEL_PER_FRAME) -> None:
    """The audio-visual contract T = 4F (``docs/paper.md`` §F.3): T mel frames for F video frames.

    The one check of it (dataset items, batches, the dubber's inputs); raises :class:`ShapeError` naming
    ``name`` and ``clip``. ``mel_per_frame`` is 4 under the fixed contract (16 kHz, hop 160, 25 fps).
    """
    if mel_frames != mel_per_frame * video_frames:
        where = f" (clip {clip})" if clip else ""
        raise ShapeError(
            f"{name} has T = {mel_frames} mel frames for F = {video_frames} video frames{where}; "
            f"the contract is T = {mel_per_frame}F = {mel_per_frame * video_frames} "
            f"(16 kHz, hop 160, 25 fps)"
        )

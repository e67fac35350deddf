"""Shape checks with errors that name the tensor, the dimension and the rule (T = 4F)."""

from __future__ import annotations

from typing import Sequence

import torch

from emodubber.batch import MEL_PER_FRAME, ShapeError, expect_t_equals_4f

__all__ = ["ShapeError", "expect_ndim", "expect_dim", "expect_t_equals_4f", "MEL_PER_FRAME"]


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

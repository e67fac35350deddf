"""Monotonic alignment search (MAS), length regulator and masks (PE, docs/paper.md §3.3.1).

:func:`maximum_path` is a numba-compiled dynamic programme: over all monotonic paths that start at
(phoneme 0, frame 0), end at (phoneme P-1, frame F-1), give every phoneme at least one frame and
advance by at most one phoneme per frame, it returns the path with the largest summed value.
:func:`maximum_path_brute_force` enumerates those paths for tests.
"""

from __future__ import annotations

import itertools

import numba
import numpy as np
import torch

from emodubber.modules.checks import ShapeError, expect_ndim

__all__ = [
    "sequence_mask",
    "snap_to_video",
    "maximum_path",
    "maximum_path_brute_force",
    "durations_from_path",
    "path_from_durations",
    "length_regulate",
]


def sequence_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """shape: lengths [B] -> mask [B, max_len] bool (True on valid positions)"""
    max_len = int(lengths.max()) if max_len is None else int(max_len)
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


@numba.njit(cache=True, nogil=True)
def _mas_batch(value, p_lens, f_lens, path):  # pragma: no cover - compiled
    neg = -1e30
    for b in range(value.shape[0]):
        tp, tf = p_lens[b], f_lens[b]
        dp = np.full((tp, tf), neg)
        dp[0, 0] = value[b, 0, 0]
        for j in range(1, tf):
            lo = max(0, tp - tf + j)
            hi = min(tp - 1, j)
            for i in range(lo, hi + 1):
                stay = dp[i, j - 1]
                move = dp[i - 1, j - 1] if i > 0 else neg
                dp[i, j] = value[b, i, j] + (stay if stay >= move else move)
        i = tp - 1
        for j in range(tf - 1, -1, -1):
            path[b, i, j] = 1.0
            if i > 0 and (i == j or dp[i - 1, j - 1] > dp[i, j - 1]):
                i -= 1


def maximum_path(value: torch.Tensor, phoneme_lengths: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
    """Hard monotonic alignment A* = argmax_A Σ A ⊙ value (MAS; no gradient).

    shape: value [B, P, F], phoneme_lengths [B], frame_lengths [B] -> path [B, P, F] in {0, 1}
    Raises :class:`ShapeError` when a clip has more phonemes than frames (no path gives each phoneme a frame).
    """
    expect_ndim(value, "MAS value", 3, "[B, P, F]")
    pl = phoneme_lengths.detach().cpu().numpy().astype(np.int64)
    fl = frame_lengths.detach().cpu().numpy().astype(np.int64)
    bad = np.nonzero((pl > fl) | (pl < 1))[0]
    if len(bad):
        b = int(bad[0])
        raise ShapeError(
            f"MAS needs 1 <= phonemes <= frames per clip; item {b} has {pl[b]} phonemes for {fl[b]} frames"
        )
    if (pl > value.shape[1]).any() or (fl > value.shape[2]).any():
        raise ShapeError(f"MAS lengths exceed the value tensor {tuple(value.shape)}")
    v = value.detach().to("cpu", torch.float64).numpy()
    path = np.zeros(v.shape, dtype=np.float32)
    _mas_batch(v, pl, fl, path)
    return torch.from_numpy(path).to(value.device, value.dtype)


def maximum_path_brute_force(value: np.ndarray) -> tuple[np.ndarray, float]:
    """Reference MAS by enumerating every monotonic path of one [P, F] value matrix (small P, F only)."""
    P, F = value.shape
    best, best_path = -np.inf, None
    for cuts in itertools.combinations(range(1, F), P - 1):
        bounds = (0, *cuts, F)
        path = np.zeros((P, F), dtype=np.float32)
        for p in range(P):
            path[p, bounds[p] : bounds[p + 1]] = 1
        score = float((path * value).sum())
        if score > best:
            best, best_path = score, path
    return best_path, best


def durations_from_path(path: torch.Tensor) -> torch.Tensor:
    """D_p: frames per phoneme. shape: path [B, P, F] -> [B, P] long"""
    return path.sum(-1).round().long()


def path_from_durations(durations: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Hard path from integer durations. shape: durations [B, P] -> path [B, P, L] float"""
    expect_ndim(durations, "durations", 2, "[B, P]")
    ends = durations.long().cumsum(-1)  # [B, P]
    starts = ends - durations.long()
    L = int(ends[:, -1].max()) if max_len is None else int(max_len)
    t = torch.arange(L, device=durations.device)[None, None, :]
    return ((t >= starts[..., None]) & (t < ends[..., None])).float()


def fit_durations(d: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Integer durations ≥ 0 proportional to ``d`` that sum exactly to ``target`` per item (cumulative rounding:
    each boundary goes to the nearest frame). shape: d [B, P], mask [B, P], target [B] -> [B, P] long

    Used to fit predicted durations to a clip's length and to snap true mel-frame durations to the 40-ms video
    grid (``fit_durations(d_mel / 4, mask, F)``)."""
    d = d.clamp_min(1e-3) * mask
    cum = d.cumsum(-1) / d.sum(-1, keepdim=True).clamp_min(1e-6) * target[:, None].to(d.dtype)
    ends = cum.round().long()
    return torch.diff(ends, dim=-1, prepend=torch.zeros_like(ends[:, :1])) * mask.long()


def snap_to_video(durations: torch.Tensor, phoneme_lengths: torch.Tensor, lip_lengths: torch.Tensor,
                  mel_per_frame: int = 4) -> torch.Tensor:
    """True mel-frame durations snapped to whole video frames that sum to each clip's F.

    shape: durations [B, P] mel frames, phoneme_lengths [B], lip_lengths [B] -> [B, P] video frames (long)"""
    mask = sequence_mask(phoneme_lengths, durations.shape[1]).float()
    return fit_durations(durations.float() / mel_per_frame, mask, lip_lengths)


def length_regulate(x: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
    """Length regulator as a matrix product: O_s^v = A^T · O. shape: x [B, P, d], path [B, P, L] -> [B, L, d]"""
    return path.transpose(1, 2).to(x.dtype) @ x

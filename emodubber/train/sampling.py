"""Training batches as a pure function of ``(seed, step, rank)``: what makes a resumed run replay the same steps."""

from __future__ import annotations

import random
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

from emodubber.train.validate import TrainInputError

__all__ = ["StepBatchSampler", "seed_worker"]


class StepBatchSampler(Sampler):
    """Batches of indices that depend only on ``(seed, step, rank)``: resuming at step k replays step k.

    The index stream is the concatenation of seeded permutations of ``range(n)`` (epoch ``e`` uses
    generator seed ``seed * 1_000_003 + e``); global step ``s`` takes stream positions
    ``[s·G, (s+1)·G)`` with ``G = batch_size · world_size``, and rank ``r`` the ``r``-th slice of
    ``batch_size`` of them (the role of ``DistributedSampler``: disjoint shards of each global batch).
    Every sample is seen once per epoch; batches may straddle epochs; ``n < G`` is fine.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start_step: int = 0, total_steps: int | None = None,
                 rank: int = 0, world_size: int = 1, shuffle: bool = True):
        if n <= 0:
            raise TrainInputError("the training set is empty: no batch can be drawn")
        if batch_size <= 0:
            raise TrainInputError(f"batch_size must be positive, got {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start_step, self.total_steps = start_step, total_steps
        self.rank, self.world_size, self.shuffle = rank, world_size, shuffle
        self._perms: dict[int, list[int]] = {}

    def _perm(self, epoch: int) -> list[int]:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.clear()
            if self.shuffle:
                g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
                self._perms[epoch] = torch.randperm(self.n, generator=g).tolist()
            else:
                self._perms[epoch] = list(range(self.n))
        return self._perms[epoch]

    def batch_indices(self, step: int) -> list[int]:
        G = self.batch_size * self.world_size
        start = step * G + self.rank * self.batch_size
        return [self._perm(p // self.n)[p % self.n] for p in range(start, start + self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while self.total_steps is None or step < self.total_steps:
            yield self.batch_indices(step)
            step += 1

    def __len__(self) -> int:
        if self.total_steps is None:
            raise TypeError("an endless StepBatchSampler has no length")
        return max(0, self.total_steps - self.start_step)


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed python and numpy of a data-loader worker from its torch seed."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)

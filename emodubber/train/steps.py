"""The loop's parts that are not the loop: its errors, the step-based LR schedule, moving batches to the device
and the held-out loss (:func:`evaluate_loss`, also used by the stages' validation functions).

The LR schedule is a pure function of the step (docs/paper.md §A.1): a run's weights depend on its steps, never on
how fast the host is.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import is_dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch
from torch import nn

from emodubber.train import ddp
from emodubber.train.checkpoint import capture_rng, restore_rng

__all__ = ["TrainError", "NonFiniteLossError", "StopTraining", "lr_factor", "evaluate_loss", "forked_rng", "LossFn"]

LossFn = Callable[[nn.Module, Any], Mapping[str, torch.Tensor]]


class TrainError(RuntimeError):
    """A run that cannot go on; the message says where and what is left."""


class NonFiniteLossError(TrainError):
    """A NaN / inf loss or gradient; names the step, the term and the last good checkpoint."""


class StopTraining(Exception):
    """Raised by a callback to end the run early but cleanly (a checkpoint is written)."""


# ------------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------------


def lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine from 1 to ``min_ratio`` at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    progress_ = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress_))


def _to_device(x: Any, device: torch.device) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if hasattr(x, "to") and is_dataclass(x):
        return x.to(device)
    if isinstance(x, Mapping):
        return {k: _to_device(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_device(v, device) for v in x)
    return x


def _batch_len(x: Any) -> int:
    if isinstance(x, torch.Tensor):
        return int(x.shape[0])
    if hasattr(x, "__len__") and not isinstance(x, (list, tuple, Mapping)):
        return len(x)
    if isinstance(x, (list, tuple)) and x:
        return _batch_len(x[0])
    if isinstance(x, Mapping) and x:
        return _batch_len(next(iter(x.values())))
    return 1


@contextlib.contextmanager
def forked_rng() -> Iterator[None]:
    """Run a block without disturbing the python / numpy / torch generators (validation, samples)."""
    state = capture_rng()
    try:
        yield
    finally:
        restore_rng(state)


class _LossModule(nn.Module):
    """``forward(batch) = loss_fn(model, batch)``: lets DDP see the forward pass whatever API it uses."""

    def __init__(self, model: nn.Module, loss_fn: LossFn):
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Any) -> Mapping[str, torch.Tensor]:  # noqa: D401
        return self.loss_fn(self.model, batch)


@torch.no_grad()
def evaluate_loss(model: nn.Module, loss_fn: LossFn, loader: Iterable, device: torch.device | str = "cpu",
                  max_batches: int | None = None) -> dict[str, float]:
    """Mean of every loss term over ``loader`` (weighted by batch size).

    When the loader is sharded by a ``DistributedSampler`` the sums are added over the ranks (every rank
    must call this); otherwise the result is local (safe inside a rank-0-only ``val_fn``)."""
    from torch.utils.data.distributed import DistributedSampler

    sharded = isinstance(getattr(loader, "sampler", None), DistributedSampler)
    device = torch.device(device)
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    count = 0
    try:
        for i, batch in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            batch = _to_device(batch, device)
            n = _batch_len(batch)
            out = loss_fn(model, batch)
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * n
            count += n
    finally:
        model.train(was_training)
    keys = sorted(sums)
    vec = torch.tensor([sums[k] for k in keys] + [count], dtype=torch.float64)
    if sharded:
        vec = ddp.all_reduce_sum(vec)
    total = float(vec[-1])
    return {k: float(vec[i]) / max(total, 1.0) for i, k in enumerate(keys)}


# ------------------------------------------------------------------------------------------------

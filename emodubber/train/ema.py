"""Exponential moving average of a model's weights (what ``model.pt`` holds when a stage sets ``ema``)."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """Exponential moving average of a model's floating-point state.

    The decay at update ``step`` (counted from 0) is min(``decay``, (1 + step) / (10 + step)), the warm-up of
    TensorFlow's ``ExponentialMovingAverage(num_updates=...)``: early averages do not lean on the initial weights
    (with 0.995 alone, 37 % of the step-200 average would still be the step-0 model).
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int | None = None) -> None:
        """Fold ``model`` into the average; ``step`` (the number of earlier updates) sets the warm-up decay."""
        decay = self.decay if step is None else min(self.decay, (1.0 + step) / (10.0 + step))
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if v.dtype.is_floating_point:
                s.mul_(decay).add_(v.detach(), alpha=1.0 - decay)
            else:
                s.copy_(v)

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Temporarily load the EMA weights into ``model``."""
        backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield
        finally:
            model.load_state_dict(backup)

"""A toy regression task shared by the loop tests (tiny, CPU, uses every random generator)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset


class Toy(nn.Module):
    def __init__(self, d_in: int = 6, d_out: int = 2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, d_out))

    def forward(self, x):
        return self.net(x)


def toy_data(n: int = 40, seed: int = 0) -> TensorDataset:
    w = torch.randn(6, 2, generator=torch.Generator().manual_seed(99))  # one task for every split
    x = torch.randn(n, 6, generator=torch.Generator().manual_seed(seed))
    return TensorDataset(x, x @ w)


def toy_loss(model, batch):
    x, y = batch
    x = x + 0.01 * torch.randn_like(x)  # consumes the torch generator like a random crop would
    pred = model(x)
    mse = ((pred - y) ** 2).mean()
    return {"loss": mse, "mse": mse.detach(), "abs": (pred - y).abs().mean().detach()}

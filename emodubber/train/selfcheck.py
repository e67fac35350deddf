"""A seconds-long regression task that exercises the whole loop: checks a machine's (DDP) setup.

``torchrun --nproc_per_node=2 -m emodubber.train selfcheck --out /tmp/sc`` trains a small MLP on a fixed
synthetic regression with :class:`~emodubber.train.loop.Trainer` and prints the result. With
``--dump-weights`` every rank also writes ``rank<r>.pt`` (its final weights and the files it wrote),
which is how ``tests/train/test_ddp.py`` checks that ranks stay identical and only rank 0 writes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from emodubber.config import StageConfig
from emodubber.train import ddp
from emodubber.train.loop import Trainer, TrainResult, evaluate_loss

__all__ = ["SelfCheckModel", "selfcheck_data", "selfcheck_loss", "run_selfcheck"]


class SelfCheckModel(nn.Module):
    def __init__(self, d_in: int = 8, d_out: int = 2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, 32), nn.Tanh(), nn.Dropout(0.1), nn.Linear(32, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """shape: x [B, d_in] -> [B, d_out]"""
        return self.net(x)


def selfcheck_data(n: int = 64, seed: int = 0) -> TensorDataset:
    w = torch.randn(8, 2, generator=torch.Generator().manual_seed(1))
    x = torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))
    return TensorDataset(x, torch.sin(x @ w))


def selfcheck_loss(model: nn.Module, batch) -> dict[str, torch.Tensor]:
    x, y = batch
    x = x + 0.01 * torch.randn_like(x)
    mse = ((model(x) - y) ** 2).mean()
    return {"loss": mse, "mse": mse.detach()}


def run_selfcheck(out_dir: str | Path, steps: int = 20, batch_size: int = 4, seed: int = 1234,
                  resume: bool = False, dump_weights: bool = False, default_val: bool = False) -> TrainResult:
    torch.manual_seed(seed)  # same initial weights on every rank (DDP also broadcasts rank 0's)
    stage = StageConfig(steps=steps, batch_size=batch_size, lr=1e-2, warmup_steps=2, val_every=max(1, steps // 2),
                        ckpt_every=max(1, steps // 2), keep_last=2, log_every=5)
    def val_fn(model, loader, step):  # rank 0 only, like the stages' validations (no collective inside)
        res = evaluate_loss(model, selfcheck_loss, loader)
        res["weight_norm"] = float(sum(p.norm() ** 2 for p in model.parameters()) ** 0.5)
        return res

    tr = Trainer(SelfCheckModel(), selfcheck_loss, selfcheck_data(), stage, out_dir, val_data=selfcheck_data(16, 1),
                 seed=seed, name="selfcheck", tensorboard=False, config={"stage": "selfcheck"},
                 val_fn=None if default_val else val_fn)
    res = tr.fit(resume=resume)
    if dump_weights:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        torch.save({"rank": tr.info.rank, "world_size": tr.info.world_size, "written": tr.written,
                    "state": {k: v.cpu() for k, v in tr.model.state_dict().items()}, "result_step": res.step},
                   Path(out_dir) / f"rank{tr.info.rank}.pt")
    ddp.barrier()
    return res

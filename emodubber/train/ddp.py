"""Distributed data parallel in a few lines (nanoGPT's habit): ``RANK`` from the environment.

``torchrun --nproc_per_node=N -m emodubber.train STAGE --profile P`` sets ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``; :func:`setup` then joins the process group (``nccl`` on GPU, ``gloo`` on CPU) and every
process trains on its own shard of each global batch (:class:`emodubber.train.loop.StepBatchSampler`
plays the role of ``DistributedSampler`` for training, so that a resumed run replays the same data;
validation uses ``DistributedSampler`` itself). Without ``RANK`` everything is a single process and
these helpers are no-ops. Files, logs and progress bars belong to rank 0 (``info.is_main``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "setup", "cleanup", "wrap", "unwrap", "all_reduce_mean", "barrier", "resolve_device"]


@dataclass
class DistInfo:
    """Who this process is."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    backend: str = ""  # "" when not distributed

    @property
    def distributed(self) -> bool:
        return self.world_size > 1 or bool(self.backend)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(device: str = "auto", local_rank: int = 0) -> torch.device:
    """``"auto"`` → ``cuda:<local_rank>`` when a GPU is visible, else ``cpu``."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = f"cuda:{local_rank}"
    return torch.device(device)


def setup(device: str = "auto") -> DistInfo:
    """Join the process group when launched by torchrun (``RANK`` set), else describe a single process."""
    if int(os.environ.get("RANK", -1)) == -1:
        return DistInfo(device=resolve_device(device))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    world = int(os.environ.get("WORLD_SIZE", 1))
    dev = resolve_device(device, local_rank)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world, device=dev, backend=backend)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, info: DistInfo, find_unused_parameters: bool = True) -> torch.nn.Module:
    """``DistributedDataParallel(model)`` in a process group, the model itself otherwise."""
    if not (dist.is_available() and dist.is_initialized()):
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    # device_ids=None: the loop moves every batch to ``info.device`` itself, so DDP needs not scatter
    # (it cannot recurse into a DubBatch anyway); the module lives on exactly one device.
    return DDP(model, device_ids=None, find_unused_parameters=find_unused_parameters)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """Mean over processes (identity without a process group)."""
    if dist.is_available() and dist.is_initialized():
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= dist.get_world_size()
    return t


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()

"""Training checkpoints: everything needed to continue a run bit-for-bit, written atomically.

A checkpoint is one ``torch.save`` file ``<dir>/step_<NNNNNNN>.pt`` holding a plain dict:

=================  ==============================================================================
key                content
=================  ==============================================================================
format             ``"emodubber-checkpoint"`` (anything else is refused)
version            :data:`CKPT_VERSION` (format version; a different one is refused)
emodubber_version  the package version that wrote it
stage              stage name (``tts``, ``dubber`` …)
step               optimiser steps done
seed               the run's seed (the data order is a function of (seed, step))
config             the stage / profile config as a plain dict (enough to rebuild the model)
model              ``state_dict`` of the unwrapped model (never the DDP wrapper)
ema                EMA weights (``None`` without EMA)
optimizer          optimiser state; scheduler, scaler: their states (``None`` when absent)
rng                python / numpy / torch (CPU, CUDA) generator states at the moment of saving
extra              free-form dict (metrics, the last good loss …)
=================  ==============================================================================

Only plain Python types and tensors are stored, so files load with ``torch.load(weights_only=True)``.
Files are written to a temporary name and renamed (a crash mid-write never leaves half a file); the last
``keep_last`` are kept. A truncated, corrupt or wrong-version file raises :class:`CheckpointError`
naming the file.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emodubber import __version__
from emodubber.models.checkpointing import list_checkpoints
from emodubber.utils import atomic_path

__all__ = ["CKPT_VERSION", "CheckpointError", "capture_rng", "restore_rng", "save_checkpoint",
           "load_checkpoint", "list_checkpoints", "latest_checkpoint", "prune_checkpoints",
           "CheckpointManager", "load_weights"]

#: Version of the checkpoint layout above; bump it when the layout changes.
CKPT_VERSION = 1
FORMAT = "emodubber-checkpoint"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used (missing, truncated, corrupt, wrong version); names the file."""


# ------------------------------------------------------------------------------------------------
# RNG states as plain types
# ------------------------------------------------------------------------------------------------


def capture_rng() -> dict[str, Any]:
    """Python, numpy and torch generator states, as tensors / lists (``weights_only``-loadable)."""
    py = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    out: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return out


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


def save_checkpoint(path: str | Path, *, model: torch.nn.Module, step: int, seed: int, config: dict | None = None,
                    stage: str = "", optimizer: Any = None, scheduler: Any = None, scaler: Any = None,
                    ema: dict[str, torch.Tensor] | None = None, extra: dict | None = None) -> Path:
    """Write a checkpoint atomically (temporary file, then rename) and return its path."""
    state = {
        "format": FORMAT,
        "version": CKPT_VERSION,
        "emodubber_version": __version__,
        "stage": stage,
        "step": int(step),
        "seed": int(seed),
        "config": config or {},
        "model": _unwrap(model).state_dict(),
        "ema": ema,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "rng": capture_rng(),
        "extra": extra or {},
        "saved_at": time.time(),
    }
    path = Path(path)
    with atomic_path(path, suffix=".tmp") as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint; :class:`CheckpointError` for anything unusable, naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, pickle garbage, wrong file type …
        raise CheckpointError(
            f"checkpoint {path} is unreadable (truncated or corrupt: {type(e).__name__}: {str(e)[:120]}); "
            f"delete it to resume from the previous one"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not an emodubber training checkpoint (no format={FORMAT!r})")
    if state.get("version") != CKPT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has layout version {state.get('version')!r}; this emodubber "
            f"({__version__}) reads version {CKPT_VERSION}"
        )
    for key in ("step", "seed", "model"):
        if key not in state:
            raise CheckpointError(f"checkpoint {path} lacks the {key!r} entry (corrupt)")
    return state


def load_weights(path: str | Path, prefer_ema: bool = True) -> dict[str, torch.Tensor]:
    """Model weights of a checkpoint (its EMA weights when present and ``prefer_ema``)."""
    state = load_checkpoint(path)
    if prefer_ema and state.get("ema"):
        return state["ema"]
    return state["model"]


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest checkpoint of ``directory`` (highest step), or ``None``."""
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def prune_checkpoints(directory: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the ``keep_last`` newest checkpoints (``keep_last <= 0`` keeps all)."""
    if keep_last <= 0:
        return []
    removed = []
    for _, p in list_checkpoints(directory)[:-keep_last]:
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:  # pragma: no cover - another process pruned it
            pass
    return removed


class CheckpointManager:
    """Numbered checkpoints of one stage in one directory, the last ``keep_last`` kept."""

    def __init__(self, directory: str | Path, keep_last: int = 3):
        self.dir = Path(directory)
        self.keep_last = keep_last

    def path_for(self, step: int) -> Path:
        return self.dir / f"step_{int(step):07d}.pt"

    def save(self, step: int, **kwargs: Any) -> Path:
        os.makedirs(self.dir, exist_ok=True)
        path = save_checkpoint(self.path_for(step), step=step, **kwargs)
        prune_checkpoints(self.dir, self.keep_last)
        return path

    def latest(self) -> Path | None:
        return latest_checkpoint(self.dir)

    def all(self) -> list[Path]:
        return [p for _, p in list_checkpoints(self.dir)]

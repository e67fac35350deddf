"""Model files: weights + the config that rebuilds the model + the emodubber version, written atomically.

One ``torch.save`` dict, loadable with ``weights_only=True``:
``format`` (:data:`MODEL_FORMAT`), ``kind`` (which class), ``emodubber_version``, ``config`` (plain dict),
``state_dict``, ``extra``. :func:`read_model_file` also accepts a training checkpoint of
``emodubber.train.checkpoint`` (format ``"emodubber-checkpoint"``: its EMA weights when present, else
``model``). A missing, truncated or foreign file, or one written by another major.minor version, raises
:class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from emodubber import __version__
from emodubber.utils import atomic_path

__all__ = ["MODEL_FORMAT", "ModelFileError", "write_model_file", "read_model_file", "list_checkpoints"]

MODEL_FORMAT = "emodubber-model/1"

#: a training checkpoint of ``emodubber.train.checkpoint``: ``step_<NNNNNNN>.pt``
_CHECKPOINT_NAME = re.compile(r"^step_(\d+)\.pt$")


class ModelFileError(RuntimeError):
    """A model file that cannot be used; the message names the file and the reason."""


def _major_minor(v: str) -> tuple[str, ...]:
    return tuple(str(v).split("+")[0].split(".")[:2])


def write_model_file(path: str | Path, kind: str, state_dict: dict, config: dict, extra: dict | None = None) -> Path:
    payload = {
        "format": MODEL_FORMAT,
        "kind": kind,
        "emodubber_version": __version__,
        "config": config,
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "extra": extra or {},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def read_model_file(path: str | Path, kind: str | None = None, check_version: bool = True) -> dict[str, Any]:
    """The payload dict (``state_dict``, ``config``, ...) of a model file or a training checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, pickle garbage ...
        raise ModelFileError(
            f"{path}: not a readable model file (truncated or corrupt?): {type(e).__name__}: {e}"
        ) from None
    if not isinstance(payload, dict):
        raise ModelFileError(f"{path}: expected a dict payload, got {type(payload).__name__}")
    if payload.get("format") == "emodubber-checkpoint":  # training checkpoint -> model payload
        cfg = payload.get("config") or {}
        payload = {
            "format": MODEL_FORMAT,
            "kind": kind,
            "emodubber_version": payload.get("emodubber_version", "?"),
            "config": cfg.get("model_file_config", cfg),
            "state_dict": payload.get("ema") or payload["model"],
            "extra": {"step": payload.get("step"), "stage": payload.get("stage")},
        }
    if payload.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path}: format {payload.get('format')!r}, expected {MODEL_FORMAT!r}")
    if kind is not None and payload.get("kind") not in (kind, None):
        raise ModelFileError(f"{path}: holds a {payload.get('kind')!r}, not a {kind!r}")
    v = payload.get("emodubber_version", "?")
    if check_version and _major_minor(v) != _major_minor(__version__):
        raise ModelFileError(
            f"{path}: written by emodubber {v}, this is {__version__} (major.minor differ); "
            f"pass check_version=False (emodubber dub --ignore-version) to try anyway"
        )
    return payload


def list_checkpoints(directory: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every training checkpoint ``step_*.pt`` in ``directory``, oldest first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        m = _CHECKPOINT_NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)

"""Shared plumbing of the training stages: where a stage writes, its datasets, its trainer and its summary."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset

from emodubber.config import ModelConfig, ProfileConfig, StageConfig
from emodubber.data.dataset import DubbingDataset, collate, speaker_list
from emodubber.train.loop import Trainer, TrainResult
from emodubber.train.validate import TrainInputError, make_batch_checker, validate_dataset
from emodubber.utils import atomic_write_json, seed_everything

__all__ = ["StageOutput", "stage_dir", "model_path", "begin", "speech_collate", "default_collate", "corpus_datasets",
           "n_speakers", "stage_config", "make_trainer", "finish", "count_parameters", "check_inputs", "null_context"]


@dataclasses.dataclass
class StageOutput:
    """What a stage leaves behind (``summary.json`` holds the same)."""

    stage: str
    out_dir: Path
    model_path: Path  # final weights (EMA when on): what later stages and notebooks load
    result: TrainResult
    metrics: dict[str, Any]  # held-out evaluation after training
    info: dict[str, Any]  # partial-load report, parameter counts …


def stage_dir(cfg: ProfileConfig, stage: str, variant: str = "") -> Path:
    d = cfg.checkpoint_dir(stage)
    return d / variant if variant else d


def model_path(cfg: ProfileConfig, stage: str, variant: str = "") -> Path:
    """``model.pt`` of a stage (``stage_dir/model.pt``)."""
    return stage_dir(cfg, stage, variant) / "model.pt"


def begin(cfg: ProfileConfig) -> None:
    torch.set_num_threads(max(1, cfg.train.threads))
    seed_everything(cfg.seed)


def speech_collate(items: Sequence[dict]) -> Any:
    """``emodubber.data.dataset.collate`` with the video dropped (TTS: all speech, with or without video)."""
    return collate([{**it, "lip": None} for it in items])


def default_collate():
    """The dubbing collate (video kept)."""
    return collate


def corpus_datasets(cfg: ProfileConfig, corpora: Sequence[str]) -> tuple[Dataset, Dataset, int]:
    """Train and val sets over ``corpora`` (concatenated), and the number of speakers."""
    speakers = speaker_list(cfg)
    tr, va = [], []
    for c in corpora:
        if not (cfg.corpus_dir / f"{c}.jsonl").exists():
            continue
        tr.append(DubbingDataset(cfg, "train", c, speakers=speakers))
        try:
            va.append(DubbingDataset(cfg, "val", c, speakers=speakers))
        except ValueError:  # no val clip in this corpus
            pass
    if not tr:
        raise TrainInputError(f"no training clips: none of {list(corpora)} exists in {cfg.corpus_dir} "
                              f"(build the corpus first: notebooks/01)")
    cat = lambda xs: xs[0] if len(xs) == 1 else ConcatDataset(xs)  # noqa: E731
    return cat(tr), (cat(va) if va else None), len(speakers)


def n_speakers(ds: Any) -> int | None:
    for d in getattr(ds, "datasets", [ds]):
        if hasattr(d, "n_speakers"):
            return int(d.n_speakers)
    return None


def stage_config(cfg: ProfileConfig, name: str) -> StageConfig:
    st = getattr(cfg.train, name)
    if st.crop_frames % cfg.mel_per_frame:
        raise TrainInputError(f"train.{name}.crop_frames = {st.crop_frames} must be a multiple of "
                              f"{cfg.mel_per_frame} (mel frames per video frame)")
    return st


def make_trainer(cfg: ProfileConfig, name: str, model: nn.Module, loss_fn: Callable, train_set: Any, val_set: Any,
                 collate_fn: Callable | None, st: StageConfig, out_dir: Path, model_cfg: ModelConfig | None,
                 val_fn: Callable | None = None, check: Callable | None = None, **kw: Any) -> Trainer:
    if val_set is not None and 0 < st.val_clips < len(val_set):  # evenly spread: every speaker / emotion
        idx = sorted(set(np.linspace(0, len(val_set) - 1, st.val_clips).round().astype(int).tolist()))
        val_set = torch.utils.data.Subset(val_set, idx)
    config = {"profile": cfg.name, "stage": name, "train": dataclasses.asdict(st)}
    if model_cfg is not None:
        config.update(model=dataclasses.asdict(model_cfg), audio=dataclasses.asdict(cfg.audio))
    return Trainer(model, loss_fn, train_set, st, out_dir, val_data=val_set, collate_fn=collate_fn, val_fn=val_fn,
                   seed=cfg.seed, name=name, config=config, device=cfg.train.device,
                   num_workers=cfg.train.num_workers, check_batch=check, **kw)


def finish(cfg: ProfileConfig, stage: str, trainer: Trainer, result: TrainResult, save_model: Callable[[Path], Any],
           metrics: dict, info: dict) -> StageOutput:
    """Write ``model.pt`` (EMA weights when on) and ``summary.json`` on rank 0."""
    out_dir = Path(result.out_dir)
    path = out_dir / "model.pt"
    if trainer.info.is_main:
        if trainer.ema is not None:
            with trainer.ema.applied(trainer.model):
                save_model(path)
        else:
            save_model(path)
        summary = {"stage": stage, "profile": cfg.name, "seed": cfg.seed, "model_path": str(path),
                   "result": dataclasses.asdict(result), "metrics": metrics, "info": info}
        atomic_write_json(out_dir / "summary.json", summary)
    return StageOutput(stage, out_dir, path, result, metrics, info)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_inputs(cfg: ProfileConfig, train_set: Any, val_set: Any, collate_fn: Callable, n_vocab: int | None,
                 n_speakers: int | None, name: str, need_video: bool = False) -> Callable:
    limits = dict(n_speakers=n_speakers, n_vocab=n_vocab, n_emotions=cfg.model.n_emotions,
                  mel_per_frame=cfg.mel_per_frame, need_video=need_video)
    validate_dataset(train_set, collate_fn, what=f"{name}: training set", batch_size=64, **limits)
    if val_set is not None:
        validate_dataset(val_set, collate_fn, what=f"{name}: validation set", batch_size=64, **limits)
    return make_batch_checker(what=name, **limits)


def null_context():
    return contextlib.nullcontext()

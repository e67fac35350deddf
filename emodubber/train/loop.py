"""One training loop for every stage: AdamW, warm-up + cosine LR, clipping, AMP on GPU, EMA, resume, DDP.

The loop knows nothing about dubbing. It takes

- a model (``nn.Module``) and a loss function ``loss_fn(model, batch) -> dict[str, Tensor]`` whose
  ``"loss"`` entry is the total to minimise (every other entry is logged);
- a map-style training set (or a ``DataLoader``, whose dataset, ``collate_fn`` and ``num_workers`` are
  reused) and optionally a validation set;
- a :class:`~emodubber.config.StageConfig` (steps, batch size, lr, …) and an output directory.

Determinism: the training batches are a pure function of ``(seed, step)``
(:class:`StepBatchSampler`), the python / numpy / torch generator states are saved in every
checkpoint, and validation runs with the generators forked. A run stopped at any point and resumed
from its last checkpoint therefore replays the same batches with the same random crops and, on CPU,
reaches bit-identical weights and losses (``tests/train/test_loop.py``).

Outputs in ``out_dir``: ``step_NNNNNNN.pt`` checkpoints (last ``keep_last`` kept), ``train_log.csv``
(every step: losses, lr, grad norm, samples/s), ``val_log.csv`` (every validation), ``tb/`` TensorBoard
events when tensorboard is installed, and ``result.json`` (a summary of the run). Only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from emodubber.config import StageConfig
from emodubber.train import ddp
from emodubber.train.checkpoint import CheckpointManager, load_checkpoint, restore_rng
from emodubber.train.ema import EMA
from emodubber.train.logs import CSVLog, read_log
from emodubber.train.sampling import StepBatchSampler, seed_worker
from emodubber.train.steps import (LossFn, NonFiniteLossError, StopTraining, TrainError, _batch_len, _LossModule,
                                   _to_device, evaluate_loss, forked_rng, lr_factor)
from emodubber.train.validate import TrainInputError, check_dataset_nonempty
from emodubber.utils import atomic_write_json, progress, truncation_note

__all__ = ["Trainer", "TrainResult", "TrainError", "NonFiniteLossError", "StopTraining", "StepBatchSampler",
           "lr_factor", "evaluate_loss", "seed_worker", "read_log", "train"]

Callback = Callable[["Trainer", int, dict], None]


# The trainer
# ------------------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What a run did; also written to ``out_dir/result.json``."""

    name: str
    out_dir: str
    status: str  # "done" | "time_budget" | "stopped"
    step: int  # optimiser steps done in total (including those before a resume)
    start_step: int  # 0, or the step resumed from
    checkpoint: str | None  # the last checkpoint written (what downstream stages load)
    wall_s: float  # this invocation's wall time
    train_s: float  # of which forward/backward/step
    samples_per_s: float  # training samples per second over this invocation (all ranks)
    last_train: dict[str, float] = field(default_factory=dict)  # loss terms of the last step
    last_val: dict[str, float] = field(default_factory=dict)  # metrics of the last validation
    world_size: int = 1
    target_steps: int = 0  # the steps the stage asked for (``stage.steps``)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        """True when the wall-clock guard (or a callback) stopped the run before ``target_steps``."""
        return self.step < self.target_steps

    @property
    def truncation_note(self) -> str:
        """``"truncated at step N of M (time_budget)"``, or ``""`` for a complete run."""
        return truncation_note(self.step, self.target_steps, self.status)

    @property
    def train_log(self) -> Path:
        return Path(self.out_dir) / "train_log.csv"

    @property
    def val_log(self) -> Path:
        return Path(self.out_dir) / "val_log.csv"


class Trainer:
    """Train ``model`` with ``loss_fn`` on ``train_data`` as ``stage`` says; :meth:`fit` runs it.

    Parameters beyond the module docstring: ``val_fn(model, val_loader, step) -> dict[str, float]``
    replaces the default validation (mean loss terms; it runs on rank 0 only, with the EMA weights when
    EMA is on and the generators forked); ``params`` the parameters (or groups) to optimise (default:
    all that require grad; dicts with ``"params"`` and ``"lr"`` are AdamW parameter groups, each scheduled
    by the same warm-up + cosine factor); ``callbacks`` are called as ``cb(trainer, step, logs)`` after every step
    (raise :class:`StopTraining` to stop cleanly); ``check_batch(batch)`` validates each batch;
    ``config`` (a plain dict) is stored in every checkpoint.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, train_data: Dataset | DataLoader, stage: StageConfig,
                 out_dir: str | Path, *, val_data: Dataset | DataLoader | None = None, collate_fn: Callable | None = None,
                 val_fn: Callable[[nn.Module, Any, int], Mapping[str, float]] | None = None, seed: int = 1234,
                 name: str = "train", config: dict | None = None, device: str = "auto", num_workers: int | None = None,
                 params: Iterable | None = None, callbacks: Sequence[Callback] = (), tensorboard: bool = True,
                 check_batch: Callable[[Any], Any] | None = None, betas: tuple[float, float] = (0.9, 0.999),
                 verbose: bool = True):
        self.stage = stage
        self.name = name
        self.seed = seed
        self.config = config or {}
        self.out_dir = Path(out_dir)
        self.callbacks = list(callbacks)
        self.val_fn = val_fn
        self.check_batch = check_batch
        self.tensorboard = tensorboard
        self.verbose = verbose
        self.betas = betas
        self.loss_fn = loss_fn

        self.train_set, collate_a, workers_a = self._unpack(train_data)
        self.val_set, collate_b, _ = self._unpack(val_data) if val_data is not None else (None, None, 0)
        self.collate_fn = collate_fn or collate_a or collate_b
        self.num_workers = num_workers if num_workers is not None else workers_a
        check_dataset_nonempty(self.train_set, f"{name}: training set")
        if val_data is not None:
            check_dataset_nonempty(self.val_set, f"{name}: validation set")
        for key in ("steps", "batch_size"):
            if getattr(stage, key) <= 0:
                raise TrainInputError(f"{name}: {key} must be positive, got {getattr(stage, key)}")
        if stage.lr <= 0:
            raise TrainInputError(f"{name}: lr must be positive, got {stage.lr}")

        self.info = ddp.setup(device)
        self.device = self.info.device
        self.model = model.to(self.device)
        self._params = list(params) if params is not None else [p for p in self.model.parameters() if p.requires_grad]
        # parameter groups (dicts with "params" and their own "lr") go to AdamW as given; clipping sees them flat
        self._flat_params = [q for g in self._params for q in (g["params"] if isinstance(g, dict) else [g])]
        if not self._flat_params:
            raise TrainInputError(f"{name}: the model has no trainable parameters")
        self.step = 0
        self.start_step = 0
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self.ema: EMA | None = None
        self.ckpt = CheckpointManager(self.out_dir, stage.keep_last)
        self.last_checkpoint: Path | None = None
        self.written: list[str] = []  # files this process wrote (rank 0 only, by design)

    # ---- construction helpers --------------------------------------------------------------------
    @staticmethod
    def _unpack(data: Any) -> tuple[Any, Callable | None, int]:
        if isinstance(data, DataLoader):
            return data.dataset, data.collate_fn, data.num_workers
        return data, None, 0

    def _loader(self, dataset: Any, sampler: Any = None, batch_sampler: Any = None, shuffle_seed: int = 0) -> DataLoader:
        g = torch.Generator().manual_seed(shuffle_seed)
        kw: dict[str, Any] = {}
        if self.num_workers > 0:
            kw.update(worker_init_fn=seed_worker, persistent_workers=False)
        if batch_sampler is not None:
            return DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=self.collate_fn,
                              num_workers=self.num_workers, generator=g, pin_memory=self.device.type == "cuda", **kw)
        return DataLoader(dataset, batch_size=self.stage.batch_size, sampler=sampler, shuffle=False,
                          collate_fn=self.collate_fn, num_workers=self.num_workers, generator=g,
                          pin_memory=self.device.type == "cuda", **kw)

    def val_loader(self, shard: bool = True) -> DataLoader | None:
        """Validation batches in a fixed order (with ``shard``, each rank its ``DistributedSampler`` shard)."""
        if self.val_set is None:
            return None
        sampler = None
        if shard and self.info.world_size > 1:
            from torch.utils.data.distributed import DistributedSampler

            sampler = DistributedSampler(self.val_set, num_replicas=self.info.world_size, rank=self.info.rank,
                                         shuffle=False, drop_last=False)
        return self._loader(self.val_set, sampler=sampler, shuffle_seed=self.seed)

    def _log(self, msg: str) -> None:
        if self.verbose and self.info.is_main:
            from tqdm.auto import tqdm

            tqdm.write(f"[{self.name}] {msg}")

    @property
    def unwrapped(self) -> nn.Module:
        return self.model

    # ---- checkpoints -----------------------------------------------------------------------------
    def save(self, extra: dict | None = None) -> Path | None:
        """Checkpoint the current step (rank 0 writes; the others wait)."""
        path = None
        if self.info.is_main:
            path = self.ckpt.save(self.step, model=self.model, seed=self.seed, config=self.config, stage=self.name,
                                  optimizer=self.optimizer, scheduler=self.scheduler, scaler=self._scaler,
                                  ema=self.ema.shadow if self.ema else None, extra=extra)
            self.written.append(str(path))
            self.last_checkpoint = path
        ddp.barrier()
        if path is None:
            self.last_checkpoint = self.ckpt.latest()
        return path

    def _resume(self) -> int:
        path = self.ckpt.latest()
        if path is None:
            self._log(f"resume: no checkpoint in {self.out_dir}; starting from step 0")
            return 0
        state = load_checkpoint(path, map_location=self.device)
        if state["seed"] != self.seed:
            self._log(f"resume: checkpoint seed {state['seed']} overrides seed {self.seed}")
            self.seed = state["seed"]
        self.model.load_state_dict(state["model"])
        if state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler") is not None and self._scaler.is_enabled():
            self._scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema"):
            self.ema.shadow = {k: v.to(self.device) for k, v in state["ema"].items()}
        restore_rng(state["rng"])
        self.last_checkpoint = path
        self._log(f"resumed from {path} (step {state['step']})")
        return int(state["step"])

    # ---- the run -----------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        """Train to ``stage.steps``; ``resume`` continues from the latest checkpoint.

        The learning-rate schedule depends on the step only. ``stage.time_budget_s`` > 0 is a guard: when the
        wall time passes it the run stops with a checkpoint and ``status == "time_budget"``
        (:attr:`TrainResult.truncated`)."""
        st = self.stage
        info = self.info
        t_start = time.perf_counter()
        self.optimizer = torch.optim.AdamW(self._params, lr=st.lr, weight_decay=st.weight_decay, betas=self.betas)
        total = st.steps
        # the schedule is a function of the step alone: the same seed gives the same weights on a fast or a slow
        # host; the wall-clock cap (``time_budget_s``) is only a guard that truncates the run (status
        # "time_budget", ``truncated`` in result.json and in every report built on it)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, total, st.warmup_steps, st.min_lr_ratio))
        use_amp = self.device.type == "cuda"
        amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
        self._scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
        self.ema = EMA(self.model, st.ema) if st.ema > 0 else None

        if info.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            self.start_step = self._resume()
        else:
            if info.is_main:
                for p in self.ckpt.all():  # a fresh run replaces an old one
                    p.unlink()
            self.start_step = 0
        ddp.barrier()
        self.step = self.start_step
        net = ddp.wrap(_LossModule(self.model, self.loss_fn), info)

        sampler = StepBatchSampler(len(self.train_set), st.batch_size, self.seed, start_step=self.start_step,
                                   total_steps=total, rank=info.rank, world_size=info.world_size)
        loader = self._loader(self.train_set, batch_sampler=sampler,
                              shuffle_seed=self.seed * 7919 + self.start_step * 31 + info.rank)
        val_loader = self.val_loader()

        train_csv = val_csv = writer = None
        if info.is_main:
            keep = self.start_step if resume else None
            train_csv = CSVLog(self.out_dir / "train_log.csv", keep)
            val_csv = CSVLog(self.out_dir / "val_log.csv", keep)
            if self.tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter

                    writer = SummaryWriter(str(self.out_dir / "tb"), purge_step=self.start_step or None)
                except ImportError:
                    self._log("tensorboard is not installed: CSV logs only (pip install tensorboard)")

        bar = progress(total=total, initial=self.start_step, desc=self.name, disable=not info.is_main,
                       unit="step")
        status = "done"
        train_s = 0.0
        samples = 0
        window: list[tuple[float, int]] = []
        last_terms: dict[str, float] = {}
        last_val: dict[str, float] = {}
        keys: list[str] | None = None
        self.model.train()
        try:
            if self.step >= total:
                self._log(f"already at step {self.step} >= steps {total}; nothing to do")
            it = iter(loader)
            while self.step < total:
                t0 = time.perf_counter()
                batch = next(it)
                if self.check_batch is not None:
                    self.check_batch(batch)
                batch = _to_device(batch, self.device)
                n_local = _batch_len(batch)
                with torch.autocast(device_type=self.device.type, dtype=amp_dtype, enabled=use_amp):
                    out = net(batch)
                if "loss" not in out:
                    raise TrainError(f"{self.name}: the loss function returned {sorted(out)} without a 'loss' entry")
                if keys is None:
                    keys = ["loss"] + sorted(k for k in out if k != "loss")
                # one collective per step: mean loss terms over ranks + the stop flag of rank 0
                over_budget = float(info.is_main and st.time_budget_s > 0
                                    and time.perf_counter() - t_start > st.time_budget_s)
                vec = torch.stack([out[k].detach().float().reshape(()).cpu() for k in keys] +
                                  [torch.tensor(float(n_local)), torch.tensor(over_budget)])
                red = ddp.all_reduce_sum(vec)
                terms = {k: float(red[i]) / info.world_size for i, k in enumerate(keys)}
                n_global, stop_flag = int(red[-2]), float(red[-1]) > 0
                bad = [k for k, v in terms.items() if not math.isfinite(v)]
                if bad:
                    raise NonFiniteLossError(
                        f"{self.name}: non-finite loss at step {self.step + 1} ({', '.join(f'{k}={terms[k]}' for k in bad)}); "
                        f"last good checkpoint: {self.last_checkpoint or 'none (nothing saved yet)'}")
                self.optimizer.zero_grad(set_to_none=True)
                self._scaler.scale(out["loss"]).backward()
                self._scaler.unscale_(self.optimizer)
                gnorm = torch.nn.utils.clip_grad_norm_(self._flat_params, st.grad_clip if st.grad_clip > 0 else float("inf"))
                if not torch.isfinite(gnorm) and not self._scaler.is_enabled():
                    raise NonFiniteLossError(
                        f"{self.name}: non-finite gradient norm at step {self.step + 1} (loss {terms['loss']:.4g}); "
                        f"last good checkpoint: {self.last_checkpoint or 'none (nothing saved yet)'}")
                self._scaler.step(self.optimizer)
                self._scaler.update()
                lr = self.optimizer.param_groups[0]["lr"]
                self.scheduler.step()
                if self.ema is not None:
                    self.ema.update(self.model, self.step)
                self.step += 1
                dt = time.perf_counter() - t0
                train_s += dt
                samples += n_global
                window = (window + [(dt, n_global)])[-max(1, st.log_every):]
                sps = sum(n for _, n in window) / max(1e-9, sum(t for t, _ in window))
                last_terms = terms
                logs = {"step": self.step, **terms, "lr": lr, "grad_norm": float(gnorm), "samples_per_s": sps,
                        "time_s": time.perf_counter() - t_start}
                if info.is_main:
                    train_csv.write(logs)
                    bar.update(1)
                    if self.step % max(1, st.log_every) == 0 or self.step == total:
                        bar.set_postfix(loss=f"{terms['loss']:.4f}", lr=f"{lr:.2e}", sps=f"{sps:.1f}", refresh=False)
                        if writer is not None:
                            for k, v in logs.items():
                                if k != "step":
                                    writer.add_scalar(f"train/{k}", v, self.step)

                finished = self.step >= total
                if stop_flag and not finished:
                    status = "time_budget"
                if (st.val_every > 0 and self.step % st.val_every == 0) or finished or status != "done":
                    last_val = self.validate(val_loader)
                    if last_val and info.is_main:
                        val_csv.write({"step": self.step, **last_val})
                        if writer is not None:
                            for k, v in last_val.items():
                                writer.add_scalar(f"val/{k}", v, self.step)
                        self._log(f"step {self.step}: " + ", ".join(f"val {k} {v:.4g}" for k, v in last_val.items()))
                if (st.ckpt_every > 0 and self.step % st.ckpt_every == 0) or finished or status != "done":
                    self.save(extra={"train": terms, "val": last_val})
                try:
                    for cb in self.callbacks:
                        cb(self, self.step, logs)
                except StopTraining:
                    if self.last_checkpoint is None or not str(self.last_checkpoint).endswith(f"{self.step:07d}.pt"):
                        self.save(extra={"train": terms, "val": last_val})
                    status = "stopped"
                if status != "done":
                    self._log(f"stopping at step {self.step} ({status}); checkpoint {self.last_checkpoint}")
                    break
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        wall = time.perf_counter() - t_start
        sps_all = samples / max(train_s, 1e-9)
        result = TrainResult(name=self.name, out_dir=str(self.out_dir), status=status, step=self.step,
                             start_step=self.start_step,
                             checkpoint=str(self.last_checkpoint) if self.last_checkpoint else None,
                             wall_s=round(wall, 3), train_s=round(train_s, 3), samples_per_s=round(sps_all, 3),
                             last_train=last_terms, last_val=last_val, world_size=info.world_size,
                             target_steps=total)
        if info.is_main:
            record = {**asdict(result), "truncated": result.truncated, "truncation_note": result.truncation_note}
            self.written.append(str(atomic_write_json(self.out_dir / "result.json", record)))
            self._log(f"{self.step - self.start_step} steps in {wall:.1f} s ({train_s:.1f} s training): "
                      f"{sps_all:.1f} samples/s on {info.world_size} process(es); status {status}")
        return result

    def validate(self, val_loader: Any = None) -> dict[str, float]:
        """Validation metrics at the current step (EMA weights when EMA is on; generators untouched)."""
        if val_loader is None or self.val_fn is not None:
            val_loader = self.val_loader(shard=self.val_fn is None)  # a custom val_fn sees the whole set
        if val_loader is None and self.val_fn is None:
            return {}
        ema_ctx = self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext()
        with forked_rng(), ema_ctx:
            if self.val_fn is None:
                return evaluate_loss(self.model, self.loss_fn, val_loader, self.device)
            metrics: dict[str, float] = {}
            if self.info.is_main:
                was = self.model.training
                self.model.eval()
                try:
                    with torch.no_grad():
                        metrics = {k: float(v) for k, v in (self.val_fn(self.model, val_loader, self.step) or {}).items()}
                finally:
                    self.model.train(was)
            ddp.barrier()
            return metrics


def train(model: nn.Module, loss_fn: LossFn, train_data: Any, stage: StageConfig, out_dir: str | Path,
          resume: bool = False, **kwargs: Any) -> TrainResult:
    """``Trainer(model, loss_fn, train_data, stage, out_dir, **kwargs).fit(resume)``."""
    return Trainer(model, loss_fn, train_data, stage, out_dir, **kwargs).fit(resume=resume)

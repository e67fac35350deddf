"""The generic loop: determinism, kill + resume, NaN stop, time budget, schedule, sampler, EMA."""

from __future__ import annotations

import math

import pytest
import torch

from emodubber.config import StageConfig
from emodubber.train.checkpoint import list_checkpoints, load_checkpoint
from emodubber.train.loop import NonFiniteLossError, StepBatchSampler, StopTraining, Trainer, lr_factor, read_log, train
from .toy import Toy, toy_data, toy_loss


def _stage(**kw):
    base = dict(steps=24, batch_size=8, lr=1e-2, warmup_steps=3, val_every=8, ckpt_every=8, keep_last=10,
                log_every=4)
    base.update(kw)
    return StageConfig(**base)


def _run(out, resume=False, callbacks=(), seed=5, model_seed=0, **kw):
    torch.manual_seed(model_seed)
    model = Toy()
    return Trainer(model, toy_loss, toy_data(), _stage(**kw), out, val_data=toy_data(12, 1), seed=seed,
                   tensorboard=False, verbose=False, callbacks=callbacks).fit(resume=resume), model


def test_loss_falls_and_logs_every_step(tmp_path):
    res, _ = _run(tmp_path / "a", steps=60, lr=3e-2)
    rows = read_log(res.train_log)
    assert [r["step"] for r in rows] == list(range(1, 61))
    first = sum(r["mse"] for r in rows[:5]) / 5
    last = sum(r["mse"] for r in rows[-5:]) / 5
    assert last < 0.5 * first
    assert res.samples_per_s > 0 and all(r["samples_per_s"] > 0 for r in rows)
    val = read_log(res.val_log)
    assert [r["step"] for r in val] == [8, 16, 24, 32, 40, 48, 56, 60]
    assert val[-1]["loss"] < val[0]["loss"]
    # the last K checkpoints only
    assert [s for s, _ in list_checkpoints(tmp_path / "a")] == [8, 16, 24, 32, 40, 48, 56, 60]


def test_same_seed_same_numbers(tmp_path):
    a, ma = _run(tmp_path / "a")
    b, mb = _run(tmp_path / "b")
    assert a.last_train == b.last_train
    for (k, v), w in zip(ma.state_dict().items(), mb.state_dict().values()):
        assert torch.equal(v, w), k
    c, _ = _run(tmp_path / "c", seed=6)  # another data order / noise
    assert c.last_train != a.last_train


class _Kill(Exception):
    pass


def _kill_at(k):
    def cb(trainer, step, logs):
        if step == k:
            raise _Kill(f"killed at {step}")
    return cb


def test_killed_run_resumes_to_the_same_loss(tmp_path):
    full, m_full = _run(tmp_path / "full")
    with pytest.raises(_Kill):
        _run(tmp_path / "cut", callbacks=[_kill_at(13)])  # last checkpoint: step 8
    assert [s for s, _ in list_checkpoints(tmp_path / "cut")] == [8]
    # a fresh model with other initial weights: everything must come from the checkpoint
    res, m_res = _run(tmp_path / "cut", resume=True, model_seed=123)
    assert res.start_step == 8 and res.step == 24
    assert res.last_train == full.last_train  # bit-equal on CPU
    for (k, v), w in zip(m_full.state_dict().items(), m_res.state_dict().values()):
        assert torch.equal(v, w), k
    # the CSV log is the uninterrupted one: no duplicated replayed steps
    steps = [r["step"] for r in read_log(res.train_log)]
    assert steps == list(range(1, 25))
    assert [r["loss"] for r in read_log(res.train_log)] == [r["loss"] for r in read_log(full.train_log)]


def test_resume_without_checkpoint_starts_fresh_and_fresh_run_clears_old(tmp_path):
    res, _ = _run(tmp_path / "x", resume=True, steps=8)
    assert res.start_step == 0 and res.step == 8
    res2, _ = _run(tmp_path / "x", steps=4, ckpt_every=2)
    assert [s for s, _ in list_checkpoints(tmp_path / "x")] == [2, 4]


def test_nan_loss_names_step_and_last_checkpoint(tmp_path):
    def nan_loss(model, batch):
        out = toy_loss(model, batch)
        if nan_loss.calls >= 10:
            out["loss"] = out["loss"] * float("nan")
        nan_loss.calls += 1
        return out
    nan_loss.calls = 0
    tr = Trainer(Toy(), nan_loss, toy_data(), _stage(val_every=0), tmp_path, seed=1, tensorboard=False, verbose=False)
    with pytest.raises(NonFiniteLossError, match=r"step 11 .*loss=nan.*step_0000008\.pt"):
        tr.fit()


def test_time_budget_stops_cleanly_with_checkpoint(tmp_path):
    import json
    import time

    def slow(trainer, step, logs):
        time.sleep(0.05)
    res, _ = _run(tmp_path, steps=10_000, time_budget_s=0.3, callbacks=[slow], ckpt_every=0, val_every=0)
    assert res.status == "time_budget"
    assert 1 <= res.step < 100
    assert res.checkpoint and load_checkpoint(res.checkpoint)["step"] == res.step
    # a guard, not a schedule: the learning rate is the step's, still near the peak after a few steps of 10 000
    rows = read_log(res.train_log)
    assert rows[-1]["lr"] == pytest.approx(1e-2 * lr_factor(res.step - 1, 10_000, 3, 0.1))
    assert res.truncated and res.truncation_note == f"truncated at step {res.step} of 10000 (time_budget)"
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["truncated"] is True and saved["target_steps"] == 10_000


def test_a_slowed_run_gives_bit_identical_weights(tmp_path):
    """Training is defined by steps: a host 10x slower (a sleeping callback) reaches the same weights."""
    import time

    def slow(trainer, step, logs):
        time.sleep(0.02)
    a, ma = _run(tmp_path / "fast", steps=30, time_budget_s=60)
    b, mb = _run(tmp_path / "slow", steps=30, time_budget_s=60, callbacks=[slow])
    assert a.status == b.status == "done" and not a.truncated
    assert read_log(a.train_log)[-1]["lr"] == read_log(b.train_log)[-1]["lr"]
    for (k, v), w in zip(ma.state_dict().items(), mb.state_dict().values()):
        assert torch.equal(v, w), k


def test_stop_training_callback_checkpoints(tmp_path):
    def stop(trainer, step, logs):
        if step == 5:
            raise StopTraining
    res, _ = _run(tmp_path, callbacks=[stop])
    assert res.status == "stopped" and res.step == 5
    assert load_checkpoint(res.checkpoint)["step"] == 5


def test_lr_schedule_warmup_then_cosine():
    f = [lr_factor(s, 100, 10, 0.1) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:]))  # monotone decay after warm-up
    assert lr_factor(100, 100, 10, 0.1) == pytest.approx(0.1)
    assert lr_factor(55, 100, 10, 1.0) == 1.0


def test_step_sampler_is_a_function_of_seed_and_step():
    s = StepBatchSampler(10, 4, seed=7, total_steps=20)
    batches = list(s)
    assert len(batches) == 20
    # resuming at step 9 replays steps 9..19
    assert list(StepBatchSampler(10, 4, seed=7, start_step=9, total_steps=20)) == batches[9:]
    # every epoch (10 consecutive stream positions) is a permutation
    stream = [i for b in batches for i in b]
    for e in range(8):
        assert sorted(stream[e * 10:(e + 1) * 10]) == list(range(10))
    # two ranks: disjoint halves of each global batch, covering it
    single = list(StepBatchSampler(12, 4, seed=7, total_steps=6))
    r0 = StepBatchSampler(12, 2, seed=7, rank=0, world_size=2, total_steps=6)
    r1 = StepBatchSampler(12, 2, seed=7, rank=1, world_size=2, total_steps=6)
    for a, b, g in zip(r0, r1, single):
        assert a + b == g and not set(a) & set(b)


def test_ema_weights_are_saved_and_smoother(tmp_path):
    res, model = _run(tmp_path, ema=0.9)
    state = load_checkpoint(res.checkpoint)
    assert state["ema"] is not None
    diff = max(float((state["ema"][k] - v).abs().max()) for k, v in model.state_dict().items())
    assert diff > 0  # EMA differs from the raw weights
    assert math.isfinite(res.last_val["loss"])


def test_wrapped_loader_and_functional_api(tmp_path):
    from torch.utils.data import DataLoader

    res = train(Toy(), toy_loss, DataLoader(toy_data(), batch_size=3), _stage(steps=4), tmp_path,
                tensorboard=False, verbose=False)
    assert res.step == 4 and res.status == "done" and res.last_val == {}


def test_resume_from_a_truncated_checkpoint_names_it(tmp_path):
    from emodubber.train.checkpoint import CheckpointError

    _run(tmp_path, steps=8, ckpt_every=4)
    latest = tmp_path / "step_0000008.pt"
    latest.write_bytes(latest.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"step_0000008\.pt is unreadable"):
        _run(tmp_path, steps=12, ckpt_every=4, resume=True)


def test_ema_warm_up_does_not_lean_on_the_initial_weights():
    from emodubber.train.ema import EMA

    m = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(0.0)
    ema, plain = EMA(m, 0.995), EMA(m, 0.995)
    with torch.no_grad():
        m.weight.fill_(1.0)  # the model moves once, then stays
    for step in range(200):
        ema.update(m, step)
        plain.update(m)
    w, w_plain = float(ema.shadow["weight"]), float(plain.shadow["weight"])
    assert w > 0.9 and w_plain < 0.7  # without warm-up 0.995^200 = 37 % of the average is still the step-0 weight

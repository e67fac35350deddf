"""Checkpoints: atomic, self-describing, refused with a clear error when truncated / foreign / old."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from emodubber.train.checkpoint import (CKPT_VERSION, CheckpointError, CheckpointManager, capture_rng,
                                        latest_checkpoint, load_checkpoint, load_weights, restore_rng,
                                        save_checkpoint)

from .toy import Toy


def _save(path, **kw):
    m = Toy()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.randn(3, 6)).sum().backward()
    opt.step()
    return save_checkpoint(path, model=m, step=7, seed=11, config={"a": 1}, stage="toy", optimizer=opt, **kw), m


def test_round_trip_holds_everything(tmp_path):
    p, m = _save(tmp_path / "step_0000007.pt", extra={"val": {"loss": 0.5}})
    s = load_checkpoint(p)
    assert (s["step"], s["seed"], s["stage"], s["config"], s["version"]) == (7, 11, "toy", {"a": 1}, CKPT_VERSION)
    assert s["optimizer"]["state"] and s["extra"]["val"]["loss"] == 0.5
    for k, v in m.state_dict().items():
        assert torch.equal(s["model"][k], v)
    assert load_weights(p).keys() == m.state_dict().keys()
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_rng_states_round_trip():
    state = capture_rng()
    a = (random.random(), float(np.random.rand()), float(torch.rand(())))
    restore_rng(state)
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == a


def test_truncated_checkpoint_is_refused_naming_the_file(tmp_path):
    p, _ = _save(tmp_path / "step_0000007.pt")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"step_0000007\.pt is unreadable \(truncated or corrupt"):
        load_checkpoint(p)


def test_wrong_version_and_foreign_files_are_refused(tmp_path):
    p, _ = _save(tmp_path / "a.pt")
    s = torch.load(p, weights_only=True)
    s["version"] = CKPT_VERSION + 1
    torch.save(s, p)
    with pytest.raises(CheckpointError, match="layout version"):
        load_checkpoint(p)
    torch.save({"state_dict": {}}, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="not an emodubber training checkpoint"):
        load_checkpoint(tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")


def test_manager_keeps_last_k(tmp_path):
    mgr = CheckpointManager(tmp_path, keep_last=2)
    m = Toy()
    for step in (5, 10, 15, 20):
        mgr.save(step, model=m, seed=0)
    assert [p.name for p in mgr.all()] == ["step_0000015.pt", "step_0000020.pt"]
    assert latest_checkpoint(tmp_path).name == "step_0000020.pt"


def test_failed_write_leaves_previous_file(tmp_path, monkeypatch):
    p, _ = _save(tmp_path / "step_0000007.pt")
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        _save(tmp_path / "step_0000007.pt")
    assert p.read_bytes() == before and not list(tmp_path.glob(".*"))

"""Two processes with gloo on CPU (torchrun): ranks keep identical weights, rank 0 alone writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from emodubber.train.checkpoint import list_checkpoints, load_checkpoint
from emodubber.train.loop import read_log


@pytest.mark.slow
@pytest.mark.parametrize("default_val", [False, True], ids=["rank0-val_fn", "sharded-val"])
def test_torchrun_two_processes_gloo(tmp_path, default_val):
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun)] if torchrun.exists() else [sys.executable, "-m", "torch.distributed.run"]
    out = tmp_path / "sc"
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(cmd + ["--standalone", "--nproc_per_node=2", "-m", "emodubber.train", "selfcheck",
                                 "--out", str(out), "--steps", "6", "--dump-weights"]
                          + (["--default-val"] if default_val else []),
                          capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "on 2 process(es)" in proc.stdout
    val = read_log(out / "val_log.csv")
    assert [r["step"] for r in val] == [3, 6] and ("weight_norm" in val[0]) != default_val
    r0 = torch.load(out / "rank0.pt", weights_only=True)
    r1 = torch.load(out / "rank1.pt", weights_only=True)
    assert (r0["world_size"], r1["world_size"], r0["result_step"]) == (2, 2, 6)
    for k, v in r0["state"].items():
        assert torch.equal(v, r1["state"][k]), k
    # I/O on rank 0 only
    assert r1["written"] == []
    ckpts = [str(p) for _, p in list_checkpoints(out)]
    assert ckpts and set(ckpts) <= set(r0["written"])
    assert {Path(p).name for p in r0["written"]} >= {"step_0000006.pt", "result.json"}
    state = load_checkpoint(ckpts[-1])
    for k, v in state["model"].items():  # the checkpoint holds the unwrapped model's weights
        assert torch.equal(v, r0["state"][k]), k


def test_single_process_has_no_process_group():
    from emodubber.train import ddp

    info = ddp.setup("cpu")
    assert (info.rank, info.world_size, info.is_main, info.distributed) == (0, 1, True, False)

import torch

from emodubber.batch import DubBatch
from emodubber.models.benchmark import measure, synthetic_batch


def test_synthetic_batch_keeps_the_contract():
    b = synthetic_batch(B=3, F=10, roi=16, n_phonemes=6)
    assert isinstance(b, DubBatch)
    b.check()
    assert b.mel.shape[-1] == 4 * b.lip.shape[1]
    assert (b.gt_sim.sum(1) >= 1).all()  # every lip frame has a positive phoneme
    assert torch.equal(b.gt_sim.sum(-1) > 0, torch.ones_like(b.durations, dtype=torch.bool))


def test_measure_reports_sizes_without_timing():
    res = measure("smoke", threads=(), batch=2, crop=0)
    assert res["parameters"]["total"] > 0 and res["gflop_forward"] > 0

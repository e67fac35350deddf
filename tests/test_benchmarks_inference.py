"""benchmarks/inference.py and memory.py run the guided path of every preset's expert (mu / mu_ref inputs given)."""

from __future__ import annotations

import emodubber  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch starts its threads)
import pytest

from benchmarks import inference


@pytest.mark.parametrize("preset", ["cpu", "paper", "smoke"])
def test_guided_timing_runs_whatever_the_expert_reads(preset):
    model, expert, voc, roi, _ = inference.build(preset)
    res = inference.time_dub(model, expert, voc, roi, 0.4, True, steps=1, repeats=1)
    assert res["guided"] and res["times"]["guidance"] > 0 and res["times"]["total"] > 0
    assert inference.decoder_only(preset, 0.4, steps=1, guided=True, repeats=1) > 0

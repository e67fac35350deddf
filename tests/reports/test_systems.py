"""Which ways a profile's EmoDubber departs from the paper's recipe, as the tables' notes say."""

from __future__ import annotations

import pytest

from emodubber.config import ModelConfig, load_profile
from emodubber.models.dubber import DEFAULT_LOSS_WEIGHTS, resolve_loss_weights
from emodubber.reports.systems import recipe_deviations


def test_the_paper_recipe_has_no_deviation_and_each_switch_is_named():
    cfg = load_profile("smoke")
    cfg.model.dub_fusion, cfg.model.dub_align_grad, cfg.model.loss_weights = "paper", "none", {}
    cfg.model.expert_condition, cfg.model.guidance_t_min, cfg.model.guidance_t_min_from_val = "none", 0.0, False
    assert recipe_deviations(cfg) == []
    cfg.model.dub_fusion, cfg.model.dub_align_grad = "residual", "straight_through"
    cfg.model.loss_weights = {"lcl": 0.1}
    notes = " ".join(recipe_deviations(cfg))
    assert "residual" in notes and "straight_through" in notes and "L_cl weight 0.1" in notes
    cfg.model.use_lpa_loss = False  # w/o L_cl: no weight to report
    assert "L_cl weight" not in " ".join(recipe_deviations(cfg))


def test_the_cpu_profile_names_its_deviations():
    notes = " ".join(recipe_deviations(load_profile("cpu")))
    assert "residual" in notes and "expert" in notes


def test_loss_weights_resolve_once_for_model_and_notes():
    assert resolve_loss_weights(ModelConfig(loss_weights={"lcl": 0.1}))["lcl"] == 0.1
    assert resolve_loss_weights(ModelConfig(loss_weights={"lcl": 0.1}, use_lpa_loss=False))["lcl"] == 0.0
    assert resolve_loss_weights(ModelConfig())["ctc"] == DEFAULT_LOSS_WEIGHTS["ctc"]
    with pytest.raises(ValueError, match="unknown terms \\['lcI'\\]"):
        resolve_loss_weights(ModelConfig(loss_weights={"lcI": 0.1}))

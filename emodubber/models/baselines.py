"""Baselines and ablations built from the same parts by configuration: the one registry of the comparison rows.

:data:`ABLATIONS` names each trained variant once. Its key is the checkpoint directory
(``cfg.checkpoint_dir("baselines") / key``) and the name the training stage and notebook 06 use; its ``label``
is the row of the tables (Table 4 and the ablation study, ``docs/paper.md`` §D.4 and §D.6); its ``slug`` the
directory of its generated audio (``work_dir/generated/<slug>``); its ``overrides`` the
:class:`~emodubber.config.ModelConfig` fields it changes (the rest is the dubber's recipe).

==================  ===================  ====================================  ==============================
key                 table label          model config                          synthesis
==================  ===================  ====================================  ==============================
``lip_blind``       lip-blind TTS        ``lip_blind: true`` — no lip           durations from the duration
                                         encoder / LPA / PE; trained in TTS     predictor on the phonemes,
                                         mode with true durations               fitted to 4F when the video
                                                                                length is known
``no_lcl``          EmoDubber w/o L_cl   ``use_lpa_loss: false`` (L_cl off)     as EmoDubber
``no_pe``           EmoDubber w/o PE     ``use_pe: false`` (C_pho alone into    as EmoDubber (MAS still
                                         the conformer)                         reports D_p)
``paper_fusion``    EmoDubber, paper     ``dub_fusion: paper`` (H = Up×4(       as EmoDubber
                    fusion               Linear([O_p; O_s^v]))), the "before"
                                         of the intelligibility study
``paper_lcl``       EmoDubber, paper     ``loss_weights: {lcl: 0.001}``,       as EmoDubber
                    L_cl weight          ``dub_align_grad: none``: the
                                         paper's λ and no straight-through
                                         gradient, the "before" of the
                                         alignment change (cpu profile)
``content``         EmoDubber + content  ``loss_weights: {content: 10}``: μ    as EmoDubber
                    consistency          pulled towards the frozen TTS's μ
                                         under the dubber's own durations
                                         (docs/paper.md §3.3); trained by the
                                         dubber's recipe (``train.dubber``),
                                         a row of Table 4 after EmoDubber
==================  ===================  ====================================  ==============================

:data:`VARIANTS` adds the untrained synthesis variants: ``emodubber`` (as configured) and ``wo_guidance``
(the same trained model with α = β = 0, FUEC guidance off).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from emodubber.config import AudioConfig, ModelConfig
from emodubber.models.dubber import EmoDubber

__all__ = ["Ablation", "ABLATIONS", "VARIANTS", "variant_config", "build_variant", "synthesis_kwargs",
           "LipBlindTTS"]


@dataclass(frozen=True)
class Ablation:
    """One trained comparison variant: checkpoint key, table label, generated-audio slug, config overrides."""

    key: str
    label: str
    slug: str
    overrides: dict[str, Any] = field(default_factory=dict)
    table4: bool = True  # a row of Table 4 (else a control of the ablation / intelligibility notebooks)
    # the ``train.<recipe>`` stage config it trains by: ``"baselines"`` (the ablations' steps) or ``"dubber"``
    # (as long as EmoDubber itself, compared with its model.pt)
    recipe: str = "baselines"
    # a Table 4 row that is not one of the paper's: listed after EmoDubber
    extension: bool = False


#: key → :class:`Ablation`, in Table 4's row order (the controls last).
ABLATIONS: dict[str, Ablation] = {a.key: a for a in (
    Ablation("lip_blind", "lip-blind TTS", "lip_blind_tts", {"lip_blind": True}),
    Ablation("no_lcl", "EmoDubber w/o L_cl", "no_lcl", {"use_lpa_loss": False}),
    Ablation("no_pe", "EmoDubber w/o PE", "no_pe", {"use_pe": False}),
    Ablation("paper_fusion", "EmoDubber, paper fusion", "emodubber_paper_fusion", {"dub_fusion": "paper"},
             table4=False),
    Ablation("paper_lcl", "EmoDubber, paper L_cl weight", "emodubber_paper_lcl",
             {"loss_weights": {"lcl": 0.001}, "dub_align_grad": "none"}, table4=False),
    # weight chosen on 30 *val* clips after 200 steps of the ablations' recipe (cpu profile; WER of the dubber
    # speaking from the video): content 0 → 25.0 %, 1 → 25.0 %, 10 → 21.7 % (the pre-trained parts frozen: 21.1 %)
    Ablation("content", "EmoDubber + content consistency", "emodubber_content", {"loss_weights": {"content": 10.0}},
             recipe="dubber", extension=True),
)}

#: variant name → ModelConfig overrides: the ablations, the full model and the guidance-off synthesis.
VARIANTS: dict[str, dict[str, Any]] = {
    "emodubber": {},
    **{k: dict(a.overrides) for k, a in ABLATIONS.items()},
    "wo_guidance": {},
}


def variant_config(model_cfg: ModelConfig, name: str) -> ModelConfig:
    """``model_cfg`` with the variant's switches applied; ``loss_weights`` are merged over the profile's (a variant
    that sets one term keeps the profile's other weights)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {sorted(VARIANTS)}")
    over = dict(VARIANTS[name])
    if "loss_weights" in over:
        over["loss_weights"] = {**model_cfg.loss_weights, **over["loss_weights"]}
    return dataclasses.replace(model_cfg, **over)


def build_variant(name: str, model_cfg: ModelConfig, audio_cfg: AudioConfig | None = None) -> EmoDubber:
    """A fresh (untrained) model of the variant."""
    return EmoDubber(variant_config(model_cfg, name), audio_cfg)


def synthesis_kwargs(name: str, **kwargs) -> dict[str, Any]:
    """Keyword arguments for :meth:`EmoDubber.synthesise` under the variant (``wo_guidance`` zeroes α, β)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {sorted(VARIANTS)}")
    if name == "wo_guidance":
        kwargs.update(alpha=0.0, beta=0.0)
    return kwargs


def LipBlindTTS(model_cfg: ModelConfig, audio_cfg: AudioConfig | None = None) -> EmoDubber:  # noqa: N802
    """The lip-blind TTS baseline: an EmoDubber built with ``lip_blind=True``."""
    return build_variant("lip_blind", model_cfg, audio_cfg)

"""Baselines and ablations built from the same parts by configuration (the comparison rows of the tables).

==================  ===========================================  =============================================
variant             model config                                 synthesis
==================  ===========================================  =============================================
``emodubber``       as given                                     guided when α or β > 0
``lip_blind_tts``   ``lip_blind: true`` — no lip encoder/LPA/PE;  durations from the duration predictor on the
                    trained in TTS mode with true durations      phonemes, fitted to 4F when the clip's video
                                                                 length is known (no video content is read)
``wo_lcl``          ``use_lpa_loss: false`` (L_cl weight 0)      as EmoDubber
``wo_pe``           ``use_pe: false`` (C_pho alone into the      as EmoDubber (MAS still reports D_p)
                    conformer; no MAS / length-regulator path)
``wo_guidance``     as EmoDubber (the same trained model)        α = β = 0 always (FUEC guidance off)
==================  ===========================================  =============================================
"""

from __future__ import annotations

import dataclasses
from typing import Any

from emodubber.config import AudioConfig, ModelConfig
from emodubber.models.dubber import EmoDubber

__all__ = ["VARIANTS", "variant_config", "build_variant", "synthesis_kwargs", "LipBlindTTS"]

#: variant name → ModelConfig overrides
VARIANTS: dict[str, dict[str, Any]] = {
    "emodubber": {},
    "lip_blind_tts": {"lip_blind": True},
    "wo_lcl": {"use_lpa_loss": False},
    "wo_pe": {"use_pe": False},
    "wo_guidance": {},
}


def variant_config(model_cfg: ModelConfig, name: str) -> ModelConfig:
    """``model_cfg`` with the variant's switches applied."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; expected one of {sorted(VARIANTS)}")
    return dataclasses.replace(model_cfg, **VARIANTS[name])


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
    return build_variant("lip_blind_tts", model_cfg, audio_cfg)

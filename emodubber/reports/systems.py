"""The systems the reproduction notebooks compare: where each one's weights live and how it speaks.

:data:`SYSTEMS` holds the rows of Table 4 in the paper's order (``docs/paper.md`` §D.4; names =
:data:`emodubber.reports.paper.OUR_TABLE4_ROWS`): the corpus wav, the corpus mel through the vocoder, the
trained variants of :data:`emodubber.models.baselines.ABLATIONS` that are Table 4 rows, and EmoDubber.
:data:`CONTROLS` holds the systems that are not rows of the paper's table: EmoDubber at the ablations' step
count (:func:`matched_step_checkpoint`, an equal-training control) and the other registered variants.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emodubber.config import ProfileConfig
from emodubber.models.baselines import ABLATIONS
from emodubber.models.dubber import resolve_loss_weights
from emodubber.models.checkpointing import ModelFileError, list_checkpoints, read_model_file

__all__ = ["SystemSpec", "SYSTEMS", "CONTROLS", "EQUAL_STEPS", "PAPER_FUSION", "PAPER_LCL", "system_spec",
           "matched_step_checkpoint", "PAPER_RECIPE", "recipe_deviations", "EXTENSIONS"]


@dataclass(frozen=True)
class SystemSpec:
    """One row of Table 4: where its weights live and how it speaks.

    kind: ``"gt"`` (the corpus wav), ``"gt_mel"`` (the corpus mel through the vocoder) or ``"model"``
    (an :class:`~emodubber.models.dubber.EmoDubber` checkpoint at ``checkpoint_dir(stage)/variant/model.pt``).
    """

    name: str
    slug: str  # directory name under work_dir/generated
    kind: str = "model"
    stage: str = ""
    variant: str = ""
    # baselines variants whose training steps this system matches: its checkpoint is the stage's numbered
    # training checkpoint nearest to their median step count (an equal-training control), not model.pt
    match_steps_of: tuple[str, ...] = ()

    @property
    def setting_independent(self) -> bool:
        """True when the audio is the same in both settings (only SECS changes)."""
        return self.kind != "model"

    def checkpoint(self, cfg: ProfileConfig) -> Path | None:
        if self.kind != "model":
            return None
        if self.match_steps_of:
            return matched_step_checkpoint(cfg, self.stage, self.match_steps_of)[0]
        d = cfg.checkpoint_dir(self.stage)
        return (d / self.variant if self.variant else d) / "model.pt"


def matched_step_checkpoint(cfg: ProfileConfig, stage: str, variants: Sequence[str],
                            tolerance: float = 0.3) -> tuple[Path, dict[str, Any]]:
    """(path, info): the numbered training checkpoint of ``stage`` whose step is nearest to the median step of
    the ``baselines/<variant>/model.pt`` files (their ``extra.step``). The path does not exist when there is
    nothing to match (no baseline model, no numbered checkpoint, or none within ``tolerance`` × the target step,
    e.g. when only the last few checkpoints were kept): the system is then reported unavailable. The control is
    mid-schedule (its learning rate had not decayed yet), unlike the ablations it is compared with."""
    steps = {}
    for v in variants:
        p = cfg.checkpoint_dir("baselines") / v / "model.pt"
        try:
            step = (read_model_file(p, check_version=False).get("extra") or {}).get("step")
        except ModelFileError:
            continue
        if step is not None:
            steps[v] = int(step)
    d = cfg.checkpoint_dir(stage)
    found = list_checkpoints(d)
    if not steps or not found:
        return d / "no_matching_step.pt", {"baseline_steps": steps, "step": None}
    target = float(np.median(list(steps.values())))
    step, path = min(found, key=lambda sp: (abs(sp[0] - target), sp[0]))
    if abs(step - target) > tolerance * target:
        return d / "no_matching_step.pt", {"baseline_steps": steps, "target_step": target, "step": None,
                                           "nearest": step}
    return path, {"baseline_steps": steps, "target_step": target, "step": step}


def _ablation_spec(key: str) -> SystemSpec:
    a = ABLATIONS[key]
    return SystemSpec(a.label, a.slug, stage="baselines", variant=a.key)


#: The systems of Table 4, in the paper's row order (names = ``emodubber.reports.paper.OUR_TABLE4_ROWS``).
SYSTEMS: dict[str, SystemSpec] = {s.name: s for s in (
    SystemSpec("GT", "gt", kind="gt"),
    SystemSpec("GT mel + vocoder", "gt_mel_vocoder", kind="gt_mel"),
    *(_ablation_spec(k) for k, a in ABLATIONS.items() if a.table4 and not a.extension),
    SystemSpec("EmoDubber", "emodubber", stage="dubber"),
    *(_ablation_spec(k) for k, a in ABLATIONS.items() if a.table4 and a.extension),
)}

#: Our Table 4 rows beyond the paper's (registry entries with ``extension=True``), listed after EmoDubber.
EXTENSIONS: tuple[str, ...] = tuple(a.label for a in ABLATIONS.values() if a.table4 and a.extension)

#: Name of the equal-training control: EmoDubber's own training checkpoint at the ablations' step count.
EQUAL_STEPS = "EmoDubber at the ablations' steps"

#: EmoDubber with the paper's fusion (model.dub_fusion = "paper"), trained by the ablations' recipe and steps
PAPER_FUSION = ABLATIONS["paper_fusion"].label

#: EmoDubber with the paper's L_cl weight and no straight-through alignment gradient (the cpu profile's "before")
PAPER_LCL = ABLATIONS["paper_lcl"].label

#: Controls that are not rows of the paper's Table 4 (the ablations and intelligibility notebooks score them).
CONTROLS: dict[str, SystemSpec] = {s.name: s for s in (
    SystemSpec(EQUAL_STEPS, "emodubber_equal_steps", stage="dubber", match_steps_of=("no_lcl", "no_pe")),
    *(_ablation_spec(k) for k, a in ABLATIONS.items() if not a.table4),
)}


def system_spec(name: str) -> SystemSpec:
    """The :class:`SystemSpec` of a Table 4 system or of a control (:data:`CONTROLS`)."""
    spec = SYSTEMS.get(name) or CONTROLS.get(name)
    if spec is None:
        raise KeyError(f"unknown system {name!r}; known: {', '.join([*SYSTEMS, *CONTROLS])}")
    return spec


#: The paper's recipe for the settings :func:`recipe_deviations` checks (docs/paper.md §A.1, §3.3, §3.5.2).
PAPER_RECIPE: dict[str, Any] = {"dub_fusion": "paper", "dub_align_grad": "none", "lcl": 0.001,
                                "expert_condition": "none", "guidance_t_min": 0.0}


def recipe_deviations(cfg: ProfileConfig) -> list[str]:
    """One sentence per way the profile's EmoDubber departs from the paper's recipe (for the tables' notes)."""
    m = cfg.model
    out = []
    if m.dub_fusion != PAPER_RECIPE["dub_fusion"]:
        out.append("fusion `model.dub_fusion: residual` (a deviation): H = repeat×4(A*ᵀ O_p) + Z(Up×4(V_f)) with Z "
                   "zero-initialised, so the dubber starts where the pre-trained TTS ends (docs/paper.md §3.3).")
    if m.dub_fusion == "residual" and m.dub_align_grad != PAPER_RECIPE["dub_align_grad"]:
        out.append("`model.dub_align_grad: straight_through` (a deviation): the reconstruction losses reach the LPA "
                   "attention through A* + sim − sg(sim) (the same values forward).")
    w = resolve_loss_weights(m)
    if m.use_lpa_loss and w["lcl"] != PAPER_RECIPE["lcl"]:
        out.append(f"L_cl weight {w['lcl']:g} (the paper's λ = {PAPER_RECIPE['lcl']:g}; a deviation).")
    if w["content"] > 0:
        out.append(f"content-consistency term L_content at weight {w['content']:g} (not in the paper).")
    if m.expert_condition != PAPER_RECIPE["expert_condition"]:
        out.append("emotion expert p_ψ(c | φ_t, t, μ): it also sees the prior μ "
                   "(a deviation, docs/paper.md §3.5.2).")
    if m.guidance_t_min_from_val or m.guidance_t_min != PAPER_RECIPE["guidance_t_min"]:
        out.append("PNGM acts only for t ≥ t_min (chosen on validation clips when `guidance_t_min_from_val`; "
                   "a deviation).")
    return out

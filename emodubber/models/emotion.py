"""FUEC emotion control: the emotion expert classifier p_ψ(c | φ_t, t) and PNGM guidance (docs/paper.md §3.5.2).

:class:`EmotionExpert` reads an intermediate state φ_t of the flow (an 80-bin mel-like tensor) and the
flow time t: a Conv1d stem, ``expert_layers`` residual conv blocks (each FiLM-modulated by the time
embedding and halving the frame rate), masked mean pooling over time, Linear → ``n_emotions`` logits.
It is trained on the OT-CFM interpolants the sampler visits (:meth:`EmotionExpert.loss`):
φ_t = (1 − (1 − σ_min) t) s·z + t x₁ with x₁ a clean mel of the emotional corpus and s the sampler's temperature
(``model.expert_noise_scale``); optionally it also reads the prior μ, and the speaker's neutral reference r̄
(``model.expert_condition``). The official release has no classifier code; this is our choice (the paper's figure
shows ψ(φ_t)).

:class:`PNGMGuidance` (positive / negative guidance mechanism, paper Fig. 1d):

    ṽ = v + γ ( α ∇_φ log p_ψ(c_i | φ_t) − β ∇_φ log Σ_{j≠i} l_j p_ψ(c_j | φ_t) ),

with l_j = stop-grad p_ψ(c_j | φ_t) / Σ_{k≠i} stop-grad p_ψ(c_k | φ_t): the classifier's own current
distribution over the non-target emotions, renormalised (our reading of "Emotional Compensating",
docs/paper.md §3.5.2). The negative term therefore pushes hardest against whichever wrong emotion currently
dominates. With α = β = 0 the guidance returns v untouched (no classifier call), so the output is
bit-for-bit the unguided one. The expert mean-pools over time, so ∇_φ log p has a per-frame size of
order 1/T; γ (the paper's note: 15) absorbs that scale.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from emodubber.config import EMOTIONS, ModelConfig, from_dict
from emodubber.models.checkpointing import read_model_file
from emodubber.modules.checks import ShapeError, expect_dim, expect_ndim
from emodubber.modules.unet1d import SinusoidalPosEmb

__all__ = ["EmotionExpert", "PNGMGuidance", "emotion_index", "load_emotion_expert", "reference_mel"]


def emotion_index(emotion: int | str, n_emotions: int = len(EMOTIONS)) -> int:
    """Class id of an emotion given by name (``emodubber.config.EMOTIONS``) or id."""
    if isinstance(emotion, str):
        if emotion not in EMOTIONS:
            raise ValueError(f"unknown emotion {emotion!r}; expected one of {EMOTIONS}")
        return EMOTIONS.index(emotion)
    e = int(emotion)
    if not 0 <= e < n_emotions:
        raise ValueError(f"emotion id {e} outside 0..{n_emotions - 1}")
    return e


class _ExpertBlock(nn.Module):
    def __init__(self, c: int, t_dim: int):
        super().__init__()
        self.conv1 = nn.Conv1d(c, c, 5, padding=2)
        self.norm1 = nn.GroupNorm(8, c)
        self.film = nn.Linear(t_dim, 2 * c)
        self.conv2 = nn.Conv1d(c, c, 5, padding=2)
        self.norm2 = nn.GroupNorm(8, c)

    def forward(self, x, mask, t_emb):
        scale, shift = self.film(t_emb)[:, :, None].chunk(2, dim=1)
        h = nn.functional.silu(self.norm1(self.conv1(x * mask)) * (1 + scale) + shift)
        h = self.norm2(self.conv2(h * mask))
        return nn.functional.silu(x + h) * mask


class EmotionExpert(nn.Module):
    """p_ψ(c | φ_t, t) (``model.expert_condition = "none"``), p_ψ(c | φ_t, μ, t) (``"mu"``) or p_ψ(c | φ_t, μ, r̄, t)
    (``"mu_ref"``).

    shape: phi [B, 80, T], t [B] (or a float), mask [B, 1, T] (optional), mu [B, 80, T] (with "mu" / "mu_ref"),
        ref [B, 80] (with "mu_ref") -> logits [B, n_emotions]

    With ``"mu"`` the stem reads [φ_t; μ] (160 channels): the prior μ of the same utterance tells the expert the
    text's own prosody and the speaker as the model renders it (a deviation: the paper's expert reads φ_t alone).
    With ``"mu_ref"`` it reads [φ_t − t r̄; μ − r̄], r̄ the time-mean normalised log-mel of a *neutral* reference clip
    of the speaker (:func:`reference_mel`; at sampling, the clip the speaker embedding comes from): since
    φ_t ≈ (1 − t) s z + t x₁, φ_t − t r̄ is the interpolant of x₁ − r̄, the speech *relative to the speaker's neutral
    voice* — what the emotion judge hears (``emodubber.metrics.emotion_judge``, speaker-relative). The corpus
    derives voices by pitch shifts, so one voice's neutral is another's happy; without r̄ the expert cannot tell
    (side runs on an unseen training voice: docs/paper.md §3.5.2).

    ``model.expert_pooling``: ``"mean"`` (masked mean over time) or ``"stats"`` (mean and standard deviation, the
    judge's statistics pooling: emotion also changes the *range* of pitch and loudness).
    """

    def __init__(self, cfg: ModelConfig, n_mels: int = 80, use_time: bool = True):
        super().__init__()
        c, self.n_mels, self.use_time = cfg.expert_channels, n_mels, use_time
        if c % 8:
            raise ValueError(f"model.expert_channels must be a multiple of 8 (GroupNorm(8)), got {c}")
        self.n_emotions, self.sigma_min = cfg.n_emotions, cfg.sigma_min
        self.condition, self.pooling = cfg.expert_condition, cfg.expert_pooling
        self.noise_scale = cfg.expert_noise_scale
        self.label_smoothing = cfg.expert_label_smoothing
        #: PNGM's schedule and step clipping travel with the expert (they say where it can see)
        self.guidance_t_min, self.guidance_clip = cfg.guidance_t_min, cfg.guidance_clip
        self.stem = nn.Conv1d(n_mels * (2 if self.needs_mu else 1), c, 3, padding=1)
        self.time = nn.Sequential(SinusoidalPosEmb(64), nn.Linear(64, 128), nn.SiLU())
        self.blocks = nn.ModuleList(_ExpertBlock(c, 128) for _ in range(cfg.expert_layers))
        self.drop = nn.Dropout(cfg.expert_dropout)
        pooled = 2 * c if self.pooling == "stats" else c
        self.head = nn.Sequential(nn.Linear(pooled, c), nn.SiLU(), nn.Linear(c, cfg.n_emotions))

    @property
    def needs_mu(self) -> bool:
        return self.condition in ("mu", "mu_ref")

    @property
    def needs_ref(self) -> bool:
        return self.condition == "mu_ref"

    def forward(self, phi: torch.Tensor, t, mask: torch.Tensor | None = None,
                mu: torch.Tensor | None = None, ref: torch.Tensor | None = None) -> torch.Tensor:
        expect_ndim(phi, "emotion expert input φ_t", 3, "[B, 80, T]")
        expect_dim(phi, "emotion expert input φ_t", 1, self.n_mels, "mel bins")
        B = phi.shape[0]
        t = torch.as_tensor(t, dtype=phi.dtype, device=phi.device)
        t = t.expand(B) if t.dim() == 0 else t.view(B)
        t_emb = self.time(t if self.use_time else torch.ones_like(t))
        m = torch.ones_like(phi[:, :1]) if mask is None else mask.to(phi.dtype)
        x = phi
        if self.needs_mu:
            if mu is None:
                raise ShapeError("this emotion expert is conditioned on the prior μ (model.expert_condition='mu'): "
                                 "pass mu [B, 80, T]")
            if mu.shape != phi.shape:
                raise ShapeError(f"μ is {tuple(mu.shape)} but φ_t is {tuple(phi.shape)}; they must match")
            mu = mu.to(phi.dtype)
            if self.needs_ref:
                if ref is None:
                    raise ShapeError("this emotion expert is conditioned on the speaker's neutral reference "
                                     "(model.expert_condition='mu_ref'): pass ref [B, 80]")
                if tuple(ref.shape) != (B, self.n_mels):
                    raise ShapeError(f"the reference r̄ is {tuple(ref.shape)}; expected [B, {self.n_mels}] = "
                                     f"[{B}, {self.n_mels}]")
                r = ref.to(phi.dtype)[:, :, None]
                x = torch.cat([phi - t[:, None, None] * r, mu - r], dim=1)
            else:
                x = torch.cat([phi, mu], dim=1)
        h = self.stem(x * m)
        for blk in self.blocks:
            h = blk(h, m, t_emb)
            h = nn.functional.avg_pool1d(h, 2, ceil_mode=True)
            m = nn.functional.max_pool1d(m, 2, ceil_mode=True)
        n = m.sum(-1).clamp_min(1)
        pooled = (h * m).sum(-1) / n
        if self.pooling == "stats":
            var = (((h - pooled[..., None]) ** 2) * m).sum(-1) / n
            pooled = torch.cat([pooled, var.clamp_min(1e-6).sqrt()], dim=1)
        return self.head(self.drop(pooled))

    def loss(self, mel, mel_lengths, emotion_ids, generator: torch.Generator | None = None, t=None, mu=None, ref=None):
        """Cross-entropy of p_ψ on OT-CFM interpolants of clean mels (t ~ U(0, 1) unless given).

        φ_t = (1 − (1 − σ_min) t) s z + t x₁ with s = ``model.expert_noise_scale``: set to the sampler's
        temperature, the expert learns the states the sampler visits (φ_0 = temperature · z).
        shape: mel [B, 80, T], mel_lengths [B], emotion_ids [B], mu [B, 80, T] (with "mu"), ref [B, 80] (with
            "mu_ref") -> (loss, accuracy)
        """
        B, _, T = mel.shape
        mask = (torch.arange(T, device=mel.device)[None] < mel_lengths[:, None]).to(mel.dtype)[:, None]
        if t is None:
            t = torch.rand(B, generator=generator).to(mel)
        t = torch.as_tensor(t, dtype=mel.dtype, device=mel.device).expand(B)
        z = torch.randn(mel.shape, generator=generator).to(mel) * self.noise_scale
        tt = t[:, None, None]
        phi = ((1 - (1 - self.sigma_min) * tt) * z + tt * mel) * mask
        logits = self(phi, t, mask, mu=None if mu is None else mu * mask, ref=ref)
        loss = nn.functional.cross_entropy(logits, emotion_ids,
                                           label_smoothing=self.label_smoothing if self.training else 0.0)
        acc = (logits.argmax(-1) == emotion_ids).float().mean()
        return loss, acc


class PNGMGuidance:
    """PNGM: ṽ = v + γ(α ∇log p_ψ(c_i|φ_t) − β ∇log Σ_{j≠i} l_j p_ψ(c_j|φ_t)) (l_j: module docstring).

    ``target``: class id per item [B] (long). Call as ``guidance(phi, t, mask, v) -> ṽ``; it is what
    :meth:`emodubber.models.flow_matching.CFM.forward` takes as ``guidance``. ``history`` keeps, per step,
    the mean target log-probability the expert saw (for plots); steps the schedule skips are not recorded.

    ``mu`` [B, 80, T]: the prior, for an expert conditioned on it; ``ref`` [B, 80]: the speaker's neutral reference
    r̄ (:func:`reference_mel` of the reference clip), for an expert conditioned on it. The schedule and the clipping default to the
    expert's (``guidance_t_min``, ``guidance_clip`` of its config):

    - ``t_min``: no guidance while t < t_min, where the expert is near chance (its held-out accuracy against t
      is plotted by notebook 04); the paper guides at every step.
    - ``clip`` > 0: each item's step γ(…) is scaled down so that ‖step‖ ≤ clip · ‖v‖ (a documented deviation:
      at γ = 15 an unclipped step can outweigh the flow itself and cost words and voice).
    """

    def __init__(
        self, expert: nn.Module, target: torch.Tensor, alpha: float = 0.0, beta: float = 0.0, gamma: float = 1.0,
        mu: torch.Tensor | None = None, t_min: float | None = None, clip: float | None = None,
        ref: torch.Tensor | None = None,
    ):
        for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
            if v < 0:
                raise ValueError(f"guidance scale {name} must be >= 0, got {v}")
        self.expert, self.target = expert, target.long()
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.mu, self.ref = mu, ref
        self.t_min = float(getattr(expert, "guidance_t_min", 0.0) if t_min is None else t_min)
        self.clip = float(getattr(expert, "guidance_clip", 0.0) if clip is None else clip)
        if getattr(expert, "needs_mu", False) and mu is None:
            raise ValueError("this emotion expert is conditioned on the prior μ: PNGMGuidance(..., mu=out['mu'])")
        if getattr(expert, "needs_ref", False) and ref is None:
            raise ValueError("this emotion expert is conditioned on the speaker's neutral reference: "
                             "PNGMGuidance(..., ref=reference_mel(<reference clip's mel>))")
        self.history: list[float] = []

    @property
    def active(self) -> bool:
        return self.gamma != 0 and (self.alpha != 0 or self.beta != 0)

    def __call__(self, phi: torch.Tensor, t: torch.Tensor, mask: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if not self.active or float(t) < self.t_min:
            return v
        if self.target.shape[0] != phi.shape[0]:
            raise ShapeError(f"guidance target has {self.target.shape[0]} items for a batch of {phi.shape[0]}")
        # works under torch.no_grad() and torch.inference_mode(): clones are ordinary autograd tensors
        with torch.inference_mode(False), torch.enable_grad():
            x = phi.detach().clone().requires_grad_(True)
            t_, m_ = torch.as_tensor(t).clone(), mask.clone()
            kw = {"mu": self.mu.detach().clone()} if getattr(self.expert, "needs_mu", False) else {}
            if getattr(self.expert, "needs_ref", False):
                kw["ref"] = self.ref.detach().clone().to(phi.device)
            logp = torch.log_softmax(self.expert(x, t_, m_, **kw).float(), dim=-1)  # [B, N]
            idx = self.target.to(logp.device).clone()[:, None]
            pos = logp.gather(1, idx).squeeze(1)
            objective = self.alpha * pos
            if self.beta != 0:
                p = logp.exp()
                others = torch.ones_like(p).scatter_(1, idx, 0.0)
                l = (p.detach() * others) / (p.detach() * others).sum(1, keepdim=True).clamp_min(1e-12)
                neg = torch.log((l * p).sum(1).clamp_min(1e-12))
                objective = objective - self.beta * neg
            (grad,) = torch.autograd.grad(objective.sum(), x)
            self.history.append(float(pos.detach().mean()))
            step = self.gamma * grad.to(v.dtype) * m_
        if self.clip > 0:
            vn = v.detach().flatten(1).norm(dim=1)
            sn = step.flatten(1).norm(dim=1).clamp_min(1e-12)
            step = step * (self.clip * vn / sn).clamp(max=1.0)[:, None, None]
        return v + step


def reference_mel(mel: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """r̄: the time-mean of a (neutral) reference clip's normalised log-mel, what a ``"mu_ref"`` expert reads.

    shape: mel [80, T] -> [80]; or mel [B, 80, T], lengths [B] (optional) -> [B, 80]"""
    if lengths is None:
        return mel.float().mean(-1)
    expect_ndim(mel, "reference mel with lengths", 3, "[B, 80, T]")
    m = (torch.arange(mel.shape[-1], device=mel.device)[None] < lengths.to(mel.device)[:, None]).float()[:, None]
    return (mel.float() * m).sum(-1) / m.sum(-1).clamp_min(1)


def load_emotion_expert(path: str | Path, map_location: str = "cpu") -> nn.Module:
    """The expert saved by :func:`emodubber.train.expert.train_emotion_expert` (``model.pt`` or a training checkpoint)."""
    payload = read_model_file(path, "EmotionExpert")
    c = payload["config"]
    expert = EmotionExpert(from_dict(ModelConfig, c["model"]), n_mels=c.get("audio", {}).get("n_mels", 80))
    expert.load_state_dict(payload["state_dict"])
    return expert.to(map_location).eval()

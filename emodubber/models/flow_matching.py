"""FUEC backbone: optimal-transport conditional flow matching (OT-CFM, docs/paper.md §3.5.1).

The solver (:class:`CFM`) is separate from the estimator network (``decoder.UNet1DEstimator`` by
default; any module with ``estimator(x, mask, mu, t, spk) -> v`` can be swapped in).

Training: t ~ U(0, 1), z ~ N(0, I), φ_t = (1 − (1 − σ_min) t) z + t x₁, target u = x₁ − (1 − σ_min) z,
L_CFM = Σ (v_θ(φ_t | μ, S_id, t) − u)² · mask / (Σ mask · 80).

Sampling: φ_0 = temperature · z with z drawn from an explicit ``torch.Generator`` (on the CPU, so the same
seed gives the same noise on every device), then ``n_steps`` fixed Euler steps from t = 0 to 1. A
``guidance`` callable (PNGM, :mod:`emodubber.models.emotion`) may replace v by ṽ at every step.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["CFM", "Guidance"]

#: ``guidance(phi_t, t, mask, v) -> ṽ`` (returns ``v`` itself when it has nothing to add).
Guidance = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class CFM(nn.Module):
    """OT-CFM solver around an estimator v_θ."""

    def __init__(self, estimator: nn.Module, n_feats: int = 80, sigma_min: float = 1e-4):
        super().__init__()
        self.estimator, self.n_feats, self.sigma_min = estimator, n_feats, sigma_min

    def compute_loss(self, x1, mask, mu, spk, generator: torch.Generator | None = None):
        """L_CFM on one batch.

        shape: x1 (target mel) [B, 80, T], mask [B, 1, T], mu [B, 80, T], spk [B, S] -> (loss scalar, φ_t [B, 80, T])
        """
        B = x1.shape[0]
        t = torch.rand(B, 1, 1, generator=generator).to(x1)
        z = torch.randn(x1.shape, generator=generator).to(x1)
        phi = (1 - (1 - self.sigma_min) * t) * z + t * x1
        u = x1 - (1 - self.sigma_min) * z
        v = self.estimator(phi, mask, mu, t.view(B), spk)
        loss = ((v - u) ** 2 * mask).sum() / (mask.sum() * self.n_feats).clamp_min(1)
        return loss, phi

    @torch.no_grad()
    def forward(
        self,
        mu: torch.Tensor,
        mask: torch.Tensor,
        spk: torch.Tensor,
        n_steps: int = 10,
        temperature: float = 0.667,
        generator: torch.Generator | None = None,
        guidance: Guidance | None = None,
        return_trajectory: bool = False,
    ):
        """Sample a mel: Euler integration of dφ/dt = v_θ (or ṽ) from φ_0 = temperature·z.

        shape: mu [B, 80, T], mask [B, 1, T], spk [B, S] -> mel [B, 80, T] (and the list of φ_t if asked)
        """
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        z = torch.randn(mu.shape, generator=generator, dtype=torch.float32).to(mu) * temperature
        t_span = torch.linspace(0, 1, n_steps + 1, device=mu.device, dtype=mu.dtype)
        phi, traj = z, [z]
        for k in range(n_steps):
            t, dt = t_span[k], t_span[k + 1] - t_span[k]
            v = self.estimator(phi, mask, mu, t.expand(mu.shape[0]), spk)
            if guidance is not None:
                with torch.enable_grad():
                    v = guidance(phi, t, mask, v)
            phi = phi + dt * v
            if return_trajectory:
                traj.append(phi)
        phi = phi * mask
        return (phi, traj) if return_trajectory else phi

"""Fractional coordinates: a variance-exploding wrapped normal on the 3-torus, as MatterGen.

x_t = (x_0 + sigma(t) eps) mod 1 with sigma(t) = sigma_min (sigma_max / sigma_min)^t, scaled by
N^(-1/3) so that a cell with more atoms (closer neighbours in fractional units) gets finer noise.
Wrapping matters: x_t - x_0 is only known modulo 1, so the true score is that of a *wrapped*
normal, a sum over periodic images k of the plain Gaussian score weighted by each image's density.
The network predicts sigma * score, which is O(1) at every noise level.
"""
from __future__ import annotations

import math

import torch

from ..crystal import wrap_frac
from .weighting import weighted_mean


def wrapped_normal_score(delta: torch.Tensor, sigma: torch.Tensor, images: int = 3, harmonics: int = 4) -> torch.Tensor:
    """d/dx log sum_k N(delta + k; 0, sigma^2), per dimension; ``sigma`` broadcasts against ``delta``.

    Narrow noise (sigma < 0.5): the sum over images k = -images..images converges fast. Wide noise:
    the image sum would need ~4 sigma terms, but its Fourier (theta-function) series
    1 + 2 sum_m exp(-2 pi^2 m^2 sigma^2) cos(2 pi m delta) converges in a few harmonics.
    """
    sigma = sigma.expand_as(delta)
    narrow_sigma = sigma.clamp(max=0.5)
    k = torch.arange(-images, images + 1, device=delta.device, dtype=delta.dtype)
    shifted = delta.unsqueeze(-1) + k
    s2 = (narrow_sigma ** 2).unsqueeze(-1)
    weights = torch.softmax(-shifted ** 2 / (2 * s2), dim=-1)
    narrow = -(weights * shifted).sum(-1) / s2.squeeze(-1)
    m = torch.arange(1, harmonics + 1, device=delta.device, dtype=delta.dtype)
    decay = torch.exp(-2 * math.pi ** 2 * m ** 2 * sigma.clamp(min=0.5).unsqueeze(-1) ** 2)
    phase = 2 * math.pi * m * delta.unsqueeze(-1)
    wide = (-2 * decay * 2 * math.pi * m * phase.sin()).sum(-1) / (1 + 2 * (decay * phase.cos()).sum(-1))
    return torch.where(sigma < 0.5, narrow, wide)


class WrappedNormalVE:
    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 5.0, scale_by_atoms: bool = True):
        self.sigma_min, self.sigma_max, self.scale_by_atoms = sigma_min, sigma_max, scale_by_atoms

    def sigma(self, t: torch.Tensor, num_atoms: torch.Tensor) -> torch.Tensor:
        """Noise level at time t (per atom or per crystal; ``num_atoms`` of the same shape)."""
        sigma = self.sigma_min * (self.sigma_max / self.sigma_min) ** t
        return sigma * num_atoms.to(sigma.dtype) ** (-1 / 3) if self.scale_by_atoms else sigma

    def corrupt(self, frac: torch.Tensor, sigma_atom: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (x_t, training target sigma * score) for per-atom noise levels (N,)."""
        eps = torch.randn(frac.shape, device=frac.device, generator=generator, dtype=frac.dtype)
        sigma = sigma_atom[:, None]
        noisy = wrap_frac(frac + sigma * eps)
        delta = noisy - frac
        delta = delta - torch.round(delta)
        return noisy, sigma * wrapped_normal_score(delta, sigma)

    @staticmethod
    def loss(predicted: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Mean squared error per atom; ``weight`` (N,) of 0 leaves padding atoms out."""
        per_atom = ((predicted.float() - target) ** 2).sum(-1)
        return weighted_mean(per_atom, weight)

    @staticmethod
    def predictor(x: torch.Tensor, scaled_score: torch.Tensor, sigma_t: torch.Tensor, sigma_s: torch.Tensor,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral reverse step of the VE process from level sigma_t to sigma_s (per atom)."""
        sigma_t, sigma_s = sigma_t[:, None], sigma_s[:, None]
        gap = sigma_t ** 2 - sigma_s ** 2
        mean = x + gap * scaled_score / sigma_t
        std = (gap * sigma_s ** 2 / sigma_t ** 2).clamp_min(0).sqrt()
        noise = torch.randn(x.shape, device=x.device, generator=generator, dtype=x.dtype)
        return wrap_frac(mean + std * noise)

    @staticmethod
    def corrector(x: torch.Tensor, scaled_score: torch.Tensor, sigma: torch.Tensor, snr: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """One Langevin step at a fixed level; with sigma*score ~ unit size the step is 2 (snr sigma)^2."""
        sigma = sigma[:, None]
        step = 2 * (snr * sigma) ** 2
        noise = torch.randn(x.shape, device=x.device, generator=generator, dtype=x.dtype)
        return wrap_frac(x + step * scaled_score / sigma + (2 * step).sqrt() * noise)

"""Lattice: a symmetric cell that drifts toward a cubic cell of the mean atomic density (MatterGen).

A cell matrix A (rows = lattice vectors) and A Q^T (rotated) are the same crystal. The left polar
factor S = sqrt(A A^T) is symmetric, depends on the Gram matrix only, and gives the same
fractional coordinates, so diffusing S removes rotations from the problem altogether.

Forward (variance preserving around a mean cell mu_N = (N / rho)^(1/3) I):
    L_t = a(t) L_0 + (1 - a(t)) mu_N + sqrt(1 - a(t)^2) * 0.5 N^(1/3) * eps_sym,
    a(t) = exp(-t^2 (b1 - b0) / 4 - t b0 / 2),
with eps_sym a symmetric Gaussian matrix (unit variance on and off the diagonal). The network
predicts eps_sym; the reverse step is DDPM's posterior for Y = L - mu_N.
"""
from __future__ import annotations

import math

import torch

from ..nn.weighting import weighted_mean


def symmetric_lattice(lattice: torch.Tensor) -> torch.Tensor:
    """sqrt(A A^T) for (B, 3, 3) row-vector cells: the rotation-free representative."""
    gram = lattice.double() @ lattice.double().transpose(-1, -2)
    values, vectors = torch.linalg.eigh(gram)
    root = vectors @ torch.diag_embed(values.clamp_min(0).sqrt()) @ vectors.transpose(-1, -2)
    return root.to(lattice.dtype)


def symmetric_noise(shape: tuple[int, ...], device=None, dtype=torch.float32,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    e = torch.randn(*shape, 3, 3, device=device, dtype=dtype, generator=generator)
    sym = (e + e.transpose(-1, -2)) / math.sqrt(2)
    return sym - torch.diag_embed(torch.diagonal(sym, dim1=-2, dim2=-1)) + torch.diag_embed(
        torch.diagonal(e, dim1=-2, dim2=-1))


class SymmetricLatticeVP:
    def __init__(self, density: float = 0.0577, beta_min: float = 0.1, beta_max: float = 20.0,
                 limit_std: float = 0.5):
        self.density, self.beta_min, self.beta_max, self.limit_std = density, beta_min, beta_max, limit_std

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(-t ** 2 * (self.beta_max - self.beta_min) / 4 - t * self.beta_min / 2)

    def mean_cell(self, num_atoms: torch.Tensor) -> torch.Tensor:
        edge = (num_atoms.float() / self.density) ** (1 / 3)
        return edge[:, None, None] * torch.eye(3, device=num_atoms.device)

    def std(self, num_atoms: torch.Tensor) -> torch.Tensor:
        return (self.limit_std * num_atoms.float() ** (1 / 3))[:, None, None]

    def corrupt(self, lattice0: torch.Tensor, num_atoms: torch.Tensor, t: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (L_t, eps_sym) for symmetric cells (B, 3, 3) at per-crystal times t (B,)."""
        a = self.alpha(t)[:, None, None]
        eps = symmetric_noise((len(t),), device=t.device, generator=generator)
        noisy = a * lattice0 + (1 - a) * self.mean_cell(num_atoms) + (1 - a ** 2).sqrt() * self.std(num_atoms) * eps
        return noisy, eps

    def prior(self, num_atoms: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = symmetric_noise((len(num_atoms),), device=num_atoms.device, generator=generator)
        return self.mean_cell(num_atoms) + self.std(num_atoms) * eps

    @staticmethod
    def loss(predicted: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Mean squared error per matrix entry; ``weight`` (B,) of 0 leaves empty crystal slots out."""
        per_crystal = ((predicted.float() - target) ** 2).flatten(1).mean(-1)
        return weighted_mean(per_crystal, weight)

    def predictor(self, lattice_t: torch.Tensor, eps_hat: torch.Tensor, num_atoms: torch.Tensor, t: torch.Tensor,
                  s: torch.Tensor, generator: torch.Generator | None = None, clip: float = 2.0) -> torch.Tensor:
        """DDPM ancestral step t -> s on Y = L - mu_N; with s = 0 it returns the denoised cell.

        The denoised estimate Y_0 is clipped to +-clip mean-cell edges (DDPM's x0 clipping): at t ~ 1
        it is divided by a(t) ~ 0.007, and an untrained or unlucky network would otherwise blow up.
        """
        a_t, a_s = self.alpha(t)[:, None, None], self.alpha(s)[:, None, None]
        abar_t, abar_s = a_t ** 2, a_s ** 2
        beta_ts = 1 - abar_t / abar_s
        mu, std = self.mean_cell(num_atoms), self.std(num_atoms)
        edge = mu[:, :1, :1]
        y = lattice_t - mu
        y0 = (y - (1 - abar_t).sqrt() * std * eps_hat) / a_t
        y0 = torch.maximum(torch.minimum(y0, clip * edge), -clip * edge)
        one_minus_t = (1 - abar_t).clamp_min(1e-12)
        mean = a_s * beta_ts / one_minus_t * y0 + (abar_t / abar_s).sqrt() * (1 - abar_s) / one_minus_t * y
        var = beta_ts * (1 - abar_s) / one_minus_t
        noise = symmetric_noise((len(t),), device=t.device, generator=generator)
        return mu + mean + var.clamp_min(0).sqrt() * std * noise

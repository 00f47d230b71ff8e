"""The two continuous densities of the autoregressive model, with exact log-densities.

* Fractional coordinates live on a circle: a mixture of von Mises distributions over x in [0, 1)
  (density per unit of x, so it integrates to one over the unit interval).
* Lattice parameters: a diagonal Gaussian mixture over (log a, log b, log c, alpha, beta, gamma in
  radians), lengths first divided by the cube root of the conventional cell's atom count.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

TWO_PI = 2 * math.pi


def von_mises_params(raw: torch.Tensor, components: int):
    """Split a head's output (..., 4K) into mixture logits, mean angles and concentrations."""
    logits, cos, sin, kappa = raw.split(components, dim=-1)
    return logits, torch.atan2(sin, cos), F.softplus(kappa) + 0.1


def von_mises_log_density(x: torch.Tensor, logits, mean, kappa) -> torch.Tensor:
    """log p(x) for x in [0, 1) (shape (...)); parameters (..., K)."""
    theta = TWO_PI * x[..., None]
    # log I0(kappa) = log(i0e(kappa)) + kappa, stable for large kappa
    per_component = kappa * (torch.cos(theta - mean) - 1) - torch.log(torch.special.i0e(kappa))
    return torch.logsumexp(F.log_softmax(logits, -1) + per_component, dim=-1)


def von_mises_sample(logits, mean, kappa, generator: torch.Generator | None = None) -> torch.Tensor:
    component = torch.multinomial(F.softmax(logits.reshape(-1, logits.shape[-1]), -1), 1, generator=generator)
    mu = mean.reshape(-1, mean.shape[-1]).gather(1, component)[:, 0]
    k = kappa.reshape(-1, kappa.shape[-1]).gather(1, component)[:, 0]
    # torch's VonMises sampler takes no generator; seed reproducibility comes from torch.manual_seed
    angle = torch.distributions.VonMises(mu.double(), k.double()).sample().to(mu.dtype)
    return (angle / TWO_PI % 1.0).reshape(logits.shape[:-1])


def lattice_features(lattice: torch.Tensor, conventional_atoms: torch.Tensor) -> torch.Tensor:
    """(B, 6) lattice in degrees -> (log length per atom^(1/3), angles in radians)."""
    scale = torch.log(conventional_atoms.clamp(min=1).to(lattice.dtype)) / 3
    return torch.cat([torch.log(lattice[:, :3]) - scale[:, None], torch.deg2rad(lattice[:, 3:])], dim=1)


def lattice_from_features(features: torch.Tensor, conventional_atoms: torch.Tensor) -> torch.Tensor:
    scale = torch.log(conventional_atoms.clamp(min=1).to(features.dtype)) / 3
    return torch.cat([torch.exp(features[:, :3] + scale[:, None]), torch.rad2deg(features[:, 3:])], dim=1)


def gaussian_mixture_params(raw: torch.Tensor, components: int, dims: int = 6):
    logits = raw[..., :components]
    mean, log_std = raw[..., components:].reshape(*raw.shape[:-1], 2, components, dims).unbind(-3)
    return logits, mean, log_std.clamp(-7, 3)


def gaussian_mixture_log_density(y: torch.Tensor, free: torch.Tensor, logits, mean, log_std) -> torch.Tensor:
    """log p of the free dimensions of y (B, D); ``free`` (B, D) bool picks them."""
    z = (y[:, None, :] - mean) / log_std.exp()
    per_dim = -0.5 * z ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    per_component = (per_dim * free[:, None, :]).sum(-1)
    return torch.logsumexp(F.log_softmax(logits, -1) + per_component, dim=-1)


def gaussian_mixture_sample(logits, mean, log_std, generator: torch.Generator | None = None) -> torch.Tensor:
    component = torch.multinomial(F.softmax(logits, -1), 1, generator=generator)[:, 0]
    rows = torch.arange(len(component), device=component.device)
    noise = torch.randn(mean.shape[0], mean.shape[-1], generator=generator, device=mean.device)
    return mean[rows, component] + log_std[rows, component].exp() * noise

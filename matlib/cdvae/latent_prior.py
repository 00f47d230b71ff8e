"""Con-CDVAE stage 2: a DDPM over the frozen encoder's latents, conditioned on target properties.

The data are z0 = μ(x) of the training crystals (standardised per dimension here, so the noise
schedule sees unit-scale data; Con-CDVAE uses μ as it is). Forward process: T = 300 steps, β
linear from 1e-3 to 0.02, z_t = sqrt(ᾱ_t) z0 + sqrt(1 - ᾱ_t) ε; the network predicts ε from
(z_t, t, properties) and is trained with the mean squared error. Sampling walks back from
z_T ~ N(0, I) with ancestral steps.

The network that predicts ε is Con-CDVAE's MLP U-Net (``network="unet"``) or, by default, a
residual MLP with FiLM conditioning (``network="film"``, ``prior_networks``), which fits the
latents far better.

Not in Con-CDVAE: with ``condition_dropout`` > 0 the prior also learns an unconditional noise
prediction (a learnt "no condition" vector replaces the condition), and ``sample(guidance=γ)``
mixes them as classifier-free guidance, ε = ε_uncond + γ (ε_cond − ε_uncond), to pull the latents
further toward the target than the conditional prior alone (γ = 1).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..batching import shuffled_indices
from .conditioning import ConditionSpec
from .prior_networks import NETWORKS


@dataclass
class LatentPriorConfig:
    latent: int
    conditions: tuple[ConditionSpec, ...]
    steps: int = 300
    beta_start: float = 1e-3
    beta_end: float = 0.02
    condition_dim: int = 128
    time_dim: int = 64
    depth: int = 3                    # unet: how many times the width halves
    condition_dropout: float = 0.0    # > 0: also learn the unconditional prediction, for guidance
    network: str = "film"             # film (residual MLP, FiLM conditioning) | unet (Con-CDVAE's)
    width: int = 512                  # film: the residual stream's width
    blocks: int = 4                   # film: residual blocks

    def __post_init__(self):
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {sorted(NETWORKS)}, not {self.network!r}")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["conditions"] = [c.as_dict() for c in self.conditions]
        return d

    @classmethod
    def from_dict(cls, values: dict) -> "LatentPriorConfig":
        values = dict(values)
        values.setdefault("network", "unet")      # manifests written before the choice existed
        return cls(conditions=tuple(ConditionSpec(**c) for c in values.pop("conditions")), **values)


class LatentPrior(nn.Module):
    def __init__(self, config: LatentPriorConfig):
        super().__init__()
        self.config = config
        self.network = NETWORKS[config.network](config)
        betas = torch.linspace(config.beta_start, config.beta_end, config.steps, dtype=torch.float64)
        self.register_buffer("betas", betas.float(), persistent=False)
        self.register_buffer("alpha_bars", torch.cumprod(1 - betas, 0).float(), persistent=False)
        # the latents' own scale (saved with the weights)
        self.register_buffer("mean", torch.zeros(config.latent))
        self.register_buffer("std", torch.ones(config.latent))

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def fit_scale(self, latents: torch.Tensor) -> None:
        self.mean.copy_(latents.mean(0))
        self.std.copy_(latents.std(0).clamp_min(1e-4))

    def loss(self, latents: torch.Tensor, properties: torch.Tensor,
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        z0 = (latents - self.mean) / self.std
        t = torch.randint(0, self.config.steps, (len(z0),), device=z0.device, generator=generator)
        eps = torch.randn(z0.shape, device=z0.device, generator=generator)
        abar = self.alpha_bars[t][:, None]
        z_t = abar.sqrt() * z0 + (1 - abar).sqrt() * eps
        dropped = None
        if self.config.condition_dropout > 0:
            dropped = torch.rand(len(z0), device=z0.device, generator=generator) < self.config.condition_dropout
        loss = F.mse_loss(self.network(z_t, t / self.config.steps, properties, dropped), eps)
        return {"loss": loss}

    def _noise(self, z: torch.Tensor, t: torch.Tensor, properties: torch.Tensor, guidance: float) -> torch.Tensor:
        if guidance == 1.0:
            return self.network(z, t, properties)
        both = self.network(torch.cat([z, z]), torch.cat([t, t]), torch.cat([properties, properties]),
                            torch.arange(2 * len(z), device=z.device) >= len(z))
        conditional, unconditional = both.chunk(2)
        return unconditional + guidance * (conditional - unconditional)

    @torch.no_grad()
    def sample(self, properties: torch.Tensor, generator: torch.Generator | None = None,
               guidance: float = 1.0) -> torch.Tensor:
        """One latent per row of ``properties`` (B, P), by T ancestral steps; ``guidance`` γ ≠ 1 needs a
        prior trained with ``condition_dropout``."""
        if guidance != 1.0 and self.config.condition_dropout <= 0:
            raise ValueError("guidance needs a prior trained with condition_dropout > 0")
        self.eval()
        properties = properties.to(self.device)
        z = torch.randn(len(properties), self.config.latent, device=self.device, generator=generator)
        for step in reversed(range(self.config.steps)):
            t = torch.full((len(z),), step, device=z.device)
            beta, abar = self.betas[step], self.alpha_bars[step]
            eps = self._noise(z, t / self.config.steps, properties, guidance)
            z = (z - beta / (1 - abar).sqrt() * eps) / (1 - beta).sqrt()
            if step > 0:
                z = z + beta.sqrt() * torch.randn(z.shape, device=z.device, generator=generator)
        return z * self.std + self.mean


def latent_minibatches(latents: torch.Tensor, properties: torch.Tensor, batch_size: int, seed: int = 0):
    """Endless shuffled epochs of (latents, properties) pairs for ``training.fit``."""
    for chosen in shuffled_indices(len(latents), batch_size, seed, latents.device):
        yield latents[chosen], properties[chosen]


def closest_to_target(candidates: torch.Tensor, predicted: torch.Tensor, targets: torch.Tensor,
                      spread: torch.Tensor) -> torch.Tensor:
    """Con-CDVAE's optional down-selection: of ``k`` candidate latents per target (K·B, d, grouped
    target by target), keep the one whose predicted properties lie nearest the targets (distance in
    units of ``spread``, one scale per property; NaN targets are ignored)."""
    k = len(candidates) // len(targets)
    if k * len(targets) != len(candidates):
        raise ValueError(f"{len(candidates)} candidates do not split into {len(targets)} equal groups")
    gap = ((predicted.view(len(targets), k, -1) - targets[:, None]) / spread).nan_to_num(0.0)
    best = gap.pow(2).sum(-1).argmin(1)
    return candidates.view(len(targets), k, -1)[torch.arange(len(targets)), best]


__all__ = ["LatentPriorConfig", "LatentPrior", "latent_minibatches", "closest_to_target"]

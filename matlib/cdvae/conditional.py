"""Con-CDVAE stage 1: a CDVAE whose decoding side reads z_cond = mix(z, c(properties)).

loss = CDVAE's six weighted terms computed from z_cond, plus 3 · predictor(z) (Con-CDVAE's weight).
Generation goes through the wrapped CDVAE unchanged: ``langevin.decode(model.cdvae, z_cond)``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from ..crystal import CrystalBatch
from .conditioning import (ConditionEncoder, ConditionSpec, LatentMixer, PropertyPredictor, check_targets,
                           fill_missing)
from .encoder import CrystalEncoder
from .langevin import LangevinConfig, decode
from .latent_prior import LatentPrior, closest_to_target
from .model import CDVAE, WEIGHTS, CDVAEConfig

PREDICTOR_WEIGHT = 3.0


@dataclass
class ConCDVAEConfig:
    cdvae: CDVAEConfig
    conditions: tuple[ConditionSpec, ...]
    condition_dim: int = 128
    embed_dim: int = 64
    predictor_weight: float = PREDICTOR_WEIGHT

    def as_dict(self) -> dict:
        return {"cdvae": self.cdvae.as_dict(), "conditions": [c.as_dict() for c in self.conditions],
                "condition_dim": self.condition_dim, "embed_dim": self.embed_dim,
                "predictor_weight": self.predictor_weight}

    @classmethod
    def from_dict(cls, values: dict) -> "ConCDVAEConfig":
        values = dict(values)
        return cls(cdvae=CDVAEConfig.from_dict(values.pop("cdvae")),
                   conditions=tuple(ConditionSpec(**c) for c in values.pop("conditions")), **values)


class ConCDVAE(nn.Module):
    def __init__(self, config: ConCDVAEConfig):
        super().__init__()
        self.config = config
        self.cdvae = CDVAE(config.cdvae)
        latent = config.cdvae.latent
        self.condition = ConditionEncoder(config.conditions, config.condition_dim, config.embed_dim)
        self.mixer = LatentMixer(latent, config.condition_dim, config.cdvae.hidden)
        self.predictor = PropertyPredictor(config.conditions, latent, config.cdvae.hidden)

    @classmethod
    def from_cdvae(cls, cdvae: CDVAE, conditions: tuple[ConditionSpec, ...], **overrides) -> "ConCDVAE":
        """Start from a trained CDVAE: its weights are copied, and since the mixer starts as the
        identity the new model decodes exactly as the old one until training moves it."""
        model = cls(ConCDVAEConfig(cdvae=cdvae.config, conditions=tuple(conditions), **overrides))
        model.cdvae.load_state_dict(cdvae.state_dict())
        return model.to(cdvae.device)

    @property
    def device(self) -> torch.device:
        return self.cdvae.device

    @property
    def conditions(self) -> tuple[ConditionSpec, ...]:
        return self.config.conditions

    def z_cond(self, z: torch.Tensor, properties: torch.Tensor) -> torch.Tensor:
        return self.mixer(z, self.condition(properties.to(z.device)))

    def loss(self, batch: CrystalBatch, properties: torch.Tensor, generator: torch.Generator | None = None,
             graph=None) -> dict[str, torch.Tensor]:
        """``properties`` (B, P): each crystal's own values, in the order of ``config.conditions``."""
        self.cdvae.check_size(batch)
        mu, logvar, z = self.cdvae.encoder(batch, generator, graph)
        losses = self.cdvae.decoding_losses(self.z_cond(z, properties), batch, generator)
        losses["kl"] = CrystalEncoder.kl(mu.float(), logvar.float())
        losses["predictor"] = self.predictor.loss(z, properties.to(z.device))
        weights = self.config.cdvae.weights
        losses["loss"] = (sum(weights[k] * losses[k] for k in WEIGHTS)
                          + self.config.predictor_weight * losses["predictor"])
        return losses


@dataclass
class ConditionedSamples:
    crystals: CrystalBatch
    conditions: torch.Tensor     # what the prior and the mixer were given (targets, gaps filled)
    z: torch.Tensor
    seconds: float


def generate(model: ConCDVAE, prior: LatentPrior, targets: torch.Tensor, reference: torch.Tensor,
             langevin: LangevinConfig = LangevinConfig(), *, oversample: int = 1,
             generator: torch.Generator | None = None, autocast=None, desc: str = "Con-CDVAE",
             allow_extrapolation: bool = False, fill: str = "matched", nearest: int = 100,
             guidance: float = 1.0) -> ConditionedSamples:
    """Targets (B, P), NaN where the user sets none -> crystals.

    Missing targets are filled from ``reference`` rows (training properties): ``fill="random"``, a
    random row (Con-CDVAE's "less" strategy), or ``fill="matched"``, a random one of the ``nearest``
    rows whose given properties lie closest to the targets (``fill_missing``). Give every column
    for Con-CDVAE's "full" strategy. The prior draws
    ``oversample`` latents per crystal and keeps the one whose predicted properties lie nearest the
    given targets (``oversample=1``: no selection); ``guidance`` > 1 applies classifier-free guidance
    in the prior (see ``LatentPrior.sample``). Then z_cond = mix(z, c) is decoded by CDVAE's annealed
    Langevin dynamics.
    """
    start = time.perf_counter()
    targets = targets.to(model.device, torch.float32)
    if not allow_extrapolation:
        check_targets(model.conditions, targets)
    spread = torch.tensor([s.spread for s in model.conditions], device=model.device)
    if fill not in ("random", "matched"):
        raise ValueError(f"fill must be 'random' or 'matched', not {fill!r}")
    conditions = fill_missing(targets, reference.to(model.device), generator,
                              nearest=nearest if fill == "matched" else None, scale=spread)
    repeated = conditions.repeat_interleave(oversample, 0)
    z = prior.sample(repeated, generator, guidance=guidance)
    if oversample > 1:
        scalar = torch.tensor([s.kind == "scalar" for s in model.conditions], device=model.device)
        asked = torch.where(scalar, targets, torch.full_like(targets, float("nan")))
        with torch.no_grad():
            z = closest_to_target(z, model.predictor(z), asked, spread)
    with torch.no_grad():
        z_cond = model.z_cond(z, conditions)
    result = decode(model.cdvae, z_cond, langevin, generator=generator, autocast=autocast, desc=desc)
    return ConditionedSamples(result.crystals, conditions, z, time.perf_counter() - start)


__all__ = ["ConCDVAEConfig", "ConCDVAE", "PREDICTOR_WEIGHT", "ConditionedSamples", "generate"]

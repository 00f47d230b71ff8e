"""Noise-prediction networks for the latent prior: ε̂(z_t, t, properties).

* ``MLPUNet``: Con-CDVAE's network. Widths halve three times on the way down (256 -> 32 for a
  256-d latent) and mirror on the way up with skip additions; the condition and time embeddings
  are concatenated to the input of every layer.
* ``FiLMResNet`` (not in Con-CDVAE; our default): a residual MLP at constant width whose blocks
  are LayerNorm, then a scale and shift computed from (condition, time) (FiLM), then two layers.
  On our MP-20 latents the U-Net's samples lie about twice as far from the encoder's latents as
  test crystals do and read −2.3 eV/atom when −4 is asked; this network reaches a third of its
  loss on the same latents, and its samples follow the target (`lab/findings_by_notebook.md`, section 05).

Both take ``unconditioned`` (rows that see a learnt "no condition" vector) for classifier-free
guidance when the prior is trained with condition dropout.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.score_network import time_features
from .conditioning import ConditionEncoder


class _Conditioned(nn.Module):
    """The part both networks share: properties and time -> one side vector."""

    def __init__(self, config):
        super().__init__()
        self.condition = ConditionEncoder(config.conditions, config.condition_dim)
        self.time = nn.Linear(config.time_dim, config.time_dim)
        self.time_dim = config.time_dim
        self.side_dim = config.condition_dim + config.time_dim
        if config.condition_dropout > 0:
            self.null = nn.Parameter(torch.zeros(config.condition_dim))

    def side(self, t: torch.Tensor, properties: torch.Tensor, unconditioned: torch.Tensor | None) -> torch.Tensor:
        condition = self.condition(properties)
        if unconditioned is not None:
            condition = torch.where(unconditioned[:, None], self.null, condition)
        return torch.cat([condition, self.time(time_features(t.float(), self.time_dim))], -1)


class MLPUNet(_Conditioned):
    def __init__(self, config):
        super().__init__(config)
        side = self.side_dim
        widths = [max(config.latent >> k, 8) for k in range(config.depth + 1)]
        self.down = nn.ModuleList(nn.Linear(w + side, w_next) for w, w_next in zip(widths, widths[1:]))
        self.up = nn.ModuleList(nn.Linear(w_next + side, w) for w, w_next in reversed(list(zip(widths, widths[1:]))))
        self.out = nn.Linear(config.latent + side, config.latent)

    def forward(self, z_t: torch.Tensor, t: torch.Tensor, properties: torch.Tensor,
                unconditioned: torch.Tensor | None = None) -> torch.Tensor:
        side = self.side(t, properties, unconditioned)
        h, skips = z_t, []
        for layer in self.down:
            skips.append(h)
            h = F.silu(layer(torch.cat([h, side], -1)))
        for layer in self.up:
            h = F.silu(layer(torch.cat([h, side], -1))) + skips.pop()
        return self.out(torch.cat([h, side], -1))


class FiLMBlock(nn.Module):
    def __init__(self, width: int, side: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.film = nn.Linear(side, 2 * width)
        self.inner = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, h: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(F.silu(side)).chunk(2, -1)
        return h + self.inner(F.silu(self.norm(h) * (1 + scale) + shift))


class FiLMResNet(_Conditioned):
    def __init__(self, config):
        super().__init__(config)
        self.inp = nn.Linear(config.latent, config.width)
        self.blocks = nn.ModuleList(FiLMBlock(config.width, self.side_dim) for _ in range(config.blocks))
        self.out = nn.Sequential(nn.LayerNorm(config.width), nn.Linear(config.width, config.latent))

    def forward(self, z_t: torch.Tensor, t: torch.Tensor, properties: torch.Tensor,
                unconditioned: torch.Tensor | None = None) -> torch.Tensor:
        side = self.side(t, properties, unconditioned)
        h = self.inp(z_t)
        for block in self.blocks:
            h = block(h, side)
        return self.out(h)


NETWORKS = {"film": FiLMResNet, "unet": MLPUNet}

__all__ = ["MLPUNet", "FiLMBlock", "FiLMResNet", "NETWORKS"]

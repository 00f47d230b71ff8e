"""CDVAE's lattice target: lengths divided by N^(1/3), angles in degrees, both standardised."""
from __future__ import annotations

import torch
from torch import nn

from ..crystal import CrystalBatch


class LatticeScaler(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(6))
        self.register_buffer("std", torch.ones(6))

    @staticmethod
    def raw(lengths: torch.Tensor, angles: torch.Tensor, num_atoms: torch.Tensor) -> torch.Tensor:
        return torch.cat([lengths / num_atoms.to(lengths.dtype)[:, None] ** (1 / 3), angles], -1)

    def fit(self, batch: CrystalBatch) -> "LatticeScaler":
        lengths, angles = batch.lattice_params()
        raw = self.raw(lengths, angles, batch.num_atoms).float()
        self.mean.copy_(raw.mean(0))
        self.std.copy_(raw.std(0).clamp_min(1e-3))
        return self

    def encode(self, lengths: torch.Tensor, angles: torch.Tensor, num_atoms: torch.Tensor) -> torch.Tensor:
        return (self.raw(lengths, angles, num_atoms) - self.mean) / self.std

    def decode(self, scaled: torch.Tensor, num_atoms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(lengths in Å, angles in degrees); lengths kept positive, angles inside (1°, 179°)."""
        raw = scaled * self.std + self.mean
        lengths = raw[:, :3].clamp_min(0.1) * num_atoms.to(raw.dtype)[:, None] ** (1 / 3)
        return lengths, raw[:, 3:].clamp(1.0, 179.0)

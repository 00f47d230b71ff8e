"""Property adapters (MatterGen): fine-tune a trained diffusion model to follow a condition.

For every block i of the score network, an adapter adds a zero-initialised correction to the atom
features when a condition c is given:

    h <- h + M_i(A_i([h ; c])) * 1[condition given],    A_i = Linear-ReLU-Linear,  M_i = Linear(no bias) = 0

At step 0, M_i = 0, so the fine-tuned model *is* the base model, and it stays exactly the base
model whenever no condition is given: the unconditional score that classifier-free guidance
needs comes for free. A scalar property is standardised (training mean and std) and expanded in
sinusoidal features; "no condition" is the zero vector.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..crystal import CrystalBatch
from ..targets import check_labels
from .model import CrystalDiffusion


class ScalarEncoding(nn.Module):
    """Standardised value -> [sin(f_k z), cos(f_k z)] over geometric frequencies; zeros where not given."""

    def __init__(self, mean: float, std: float, dim: int = 64, min_freq: float = 0.1, max_freq: float = 30.0):
        super().__init__()
        if not std > 0:
            raise ValueError(f"the property's standard deviation must be positive, got {std}")
        self.dim = dim
        # rebuilt from the configuration, so not saved (and not rounded by half-precision checkpoints)
        self.register_buffer("stats", torch.tensor([float(mean), float(std)]), persistent=False)
        self.register_buffer("freqs", torch.exp(torch.linspace(math.log(min_freq), math.log(max_freq), dim // 2)),
                             persistent=False)

    def forward(self, values: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
        z = (torch.nan_to_num(values.float()) - self.stats[0]) / self.stats[1]
        angles = z[:, None] * self.freqs
        return torch.cat([angles.sin(), angles.cos()], -1) * given[:, None].to(angles.dtype)


class Adapter(nn.Module):
    def __init__(self, dim: int, cond_dim: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or dim
        self.mix = nn.Sequential(nn.Linear(dim + cond_dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.out = nn.Linear(dim, dim, bias=False)
        nn.init.zeros_(self.out.weight)

    def forward(self, h: torch.Tensor, condition: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
        delta = self.out(self.mix(torch.cat([h, condition.to(h.dtype)], -1)))
        return h + delta * given[:, None].to(h.dtype)


class PropertyAdapters(nn.Module):
    """The trainable part: one encoding and one adapter per score-network block."""

    def __init__(self, dim: int, layers: int, mean: float, std: float, cond_dim: int = 64, hidden: int | None = None,
                 label_range: tuple[float, float] | None = None):
        super().__init__()
        self.label_range = None if label_range is None else (float(label_range[0]), float(label_range[1]))
        self.encoding = ScalarEncoding(mean, std, cond_dim)
        self.blocks = nn.ModuleList(Adapter(dim, cond_dim, hidden) for _ in range(layers))


class ConditionedDiffusion(nn.Module):
    """A base ``CrystalDiffusion`` plus ``PropertyAdapters``; ``values`` (B,) with NaN = no condition."""

    def __init__(self, base: CrystalDiffusion, adapters: PropertyAdapters):
        super().__init__()
        if len(adapters.blocks) != len(base.network.layers):
            raise ValueError("one adapter per score-network block")
        self.base, self.adapters = base, adapters

    @classmethod
    def from_base(cls, base: CrystalDiffusion, labels: torch.Tensor, cond_dim: int = 64,
                  hidden: int | None = None) -> "ConditionedDiffusion":
        """Adapters standardised on the ``labels`` of the fine-tuning data (NaN: unlabelled)."""
        check_labels(labels, "fine-tuning labels")
        known = labels[torch.isfinite(labels)].float()
        if len(known) < 2:
            raise ValueError("need at least two labelled crystals to standardise the property")
        adapters = PropertyAdapters(base.config.denoiser.dim, len(base.network.layers), float(known.mean()),
                                    float(known.std()), cond_dim, hidden, (float(known.min()), float(known.max())))
        return cls(base, adapters.to(base.device))

    @property
    def device(self) -> torch.device:
        return self.base.device

    @property
    def config(self):
        return self.base.config

    def freeze_base(self, frozen: bool = True) -> None:
        for p in self.base.parameters():
            p.requires_grad_(not frozen)

    def _hook(self, values: torch.Tensor | None, num_atoms: torch.Tensor, always: bool = False):
        """The layer hook; None (skip the adapters) when no crystal has a condition, unless ``always``
        (training needs the adapters in the graph even for a mini-batch without labels)."""
        if values is None:
            return None
        given = torch.isfinite(values)
        if not always and not bool(given.any()):
            return None
        condition = self.adapters.encoding(values, given)
        atom_crystal = torch.repeat_interleave(torch.arange(len(num_atoms), device=num_atoms.device), num_atoms)
        condition, given = condition[atom_crystal], given[atom_crystal]
        return lambda i, h: self.adapters.blocks[i](h, condition, given)

    def denoise(self, tokens, frac, lattice, num_atoms, t, edges=None, values: torch.Tensor | None = None):
        return self.base.denoise(tokens, frac, lattice, num_atoms, t, edges=edges,
                                 layer_hook=self._hook(values, num_atoms))

    def loss(self, batch: CrystalBatch, values: torch.Tensor, drop_probability: float = 0.2,
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The base model's losses with the condition dropped (set to NaN) for a share of crystals,
        so the model keeps its unconditional score for guidance."""
        drop = torch.rand(values.shape, device=values.device, generator=generator) < drop_probability
        values = torch.where(drop, torch.full_like(values, float("nan")), values)
        return self.base.loss(batch, generator, layer_hook=self._hook(values, batch.num_atoms, always=True))

    def sample_num_atoms(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.base.sample_num_atoms(n, generator)

    # the sampler reaches the base model's processes through the model it is given
    coords = property(lambda self: self.base.coords)
    lattice = property(lambda self: self.base.lattice)
    types = property(lambda self: self.base.types)
    allowed_elements = property(lambda self: self.base.allowed_elements)


__all__ = ["ScalarEncoding", "Adapter", "PropertyAdapters", "ConditionedDiffusion"]

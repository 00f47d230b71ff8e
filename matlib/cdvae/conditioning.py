"""Con-CDVAE's conditioning (Ye et al. 2024): target properties -> one condition vector c -> z_cond.

* a continuous property y is expanded on Gaussians centred on a fixed grid lo, lo + step, ..., hi
  (width = step), then an MLP maps the features to 64 numbers;
* a class property (crystal system) looks its embedding up in a table, then an MLP;
* the embeddings of all properties are concatenated and mixed by an MLP into c;
* ``LatentMixer``: z_cond = z + MLP([z ; c]) feeds every decoding head and the decoder.
  Con-CDVAE writes z_cond = MLP([z ; c]); the residual form with a zero-initialised last layer
  starts as exactly z_cond = z, so a trained CDVAE (notebook 02's) is a valid starting point;
* ``PropertyPredictor``: an MLP reading z (not z_cond) predicts the min-max scaled properties, so
  that the latent space itself is organised by property.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nn.gnn import GaussianBasis
from .heads import mlp

CRYSTAL_SYSTEMS = ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic")
_LAST_SPACE_GROUP = (2, 15, 74, 142, 167, 194, 230)     # the last space group of each crystal system


def crystal_system_index(space_group: np.ndarray | list[int]) -> np.ndarray:
    """Index into ``CRYSTAL_SYSTEMS`` of each international space-group number (1-230)."""
    numbers = np.asarray(space_group)
    if numbers.size and (np.isnan(numbers.astype(float)).any() or numbers.min() < 1 or numbers.max() > 230):
        raise ValueError("space-group numbers must lie in 1..230")
    return np.searchsorted(_LAST_SPACE_GROUP, numbers.astype(int))


@dataclass(frozen=True)
class ConditionSpec:
    """One conditioning property: ``kind`` "scalar" (a grid lo..hi with ``step``) or "class"
    (``classes`` values 0..classes-1)."""
    name: str
    kind: str = "scalar"
    lo: float = 0.0
    hi: float = 1.0
    step: float = 0.5
    classes: int = 0

    def __post_init__(self):
        if self.kind == "scalar" and not (self.hi > self.lo and self.step > 0):
            raise ValueError(f"{self.name}: need lo < hi and step > 0, got {self.lo}, {self.hi}, {self.step}")
        if self.kind == "class" and self.classes < 2:
            raise ValueError(f"{self.name}: a class property needs at least 2 classes")
        if self.kind not in ("scalar", "class"):
            raise ValueError(f"{self.name}: kind must be 'scalar' or 'class', not {self.kind!r}")

    @classmethod
    def scalar_from_data(cls, name: str, values, step: float) -> "ConditionSpec":
        """A grid covering the data, rounded outward to whole steps."""
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        if not len(v):
            raise ValueError(f"{name}: no finite values to size the grid")
        lo, hi = math.floor(v.min() / step) * step, math.ceil(v.max() / step) * step
        return cls(name, "scalar", float(lo), float(max(hi, lo + step)), float(step))

    @property
    def grid_size(self) -> int:
        return int(round((self.hi - self.lo) / self.step)) + 1

    def scale(self, values: torch.Tensor) -> torch.Tensor:
        """Min-max scaling, the predictor's target (Con-CDVAE)."""
        return (values - self.lo) / (self.hi - self.lo)

    def unscale(self, scaled: torch.Tensor) -> torch.Tensor:
        return scaled * (self.hi - self.lo) + self.lo

    @property
    def spread(self) -> float:
        """The scale distances between values are measured in: the grid's width (a class: 1)."""
        return self.hi - self.lo if self.kind == "scalar" else 1.0

    def as_dict(self) -> dict:
        return asdict(self)


class ScalarEmbedding(nn.Module):
    def __init__(self, spec: ConditionSpec, dim: int = 64):
        super().__init__()
        self.basis = GaussianBasis(spec.hi, spec.grid_size, start=spec.lo)
        self.net = mlp(spec.grid_size, dim, dim, layers=2)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return self.net(self.basis(values.float()))


class ClassEmbedding(nn.Module):
    def __init__(self, spec: ConditionSpec, dim: int = 64):
        super().__init__()
        self.table = nn.Embedding(spec.classes, dim)
        self.net = mlp(dim, dim, dim, layers=1)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return self.net(self.table(values.long()))


class ConditionEncoder(nn.Module):
    """Properties (B, P) in the order of ``specs`` -> condition vector c (B, dim)."""

    def __init__(self, specs: tuple[ConditionSpec, ...], dim: int = 128, embed: int = 64):
        super().__init__()
        if not specs:
            raise ValueError("a condition needs at least one property")
        self.specs = tuple(specs)
        self.embeddings = nn.ModuleList(ScalarEmbedding(s, embed) if s.kind == "scalar" else ClassEmbedding(s, embed)
                                        for s in self.specs)
        self.mix = mlp(embed * len(self.specs), dim, dim, layers=1)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        if values.shape[-1] != len(self.specs):
            raise ValueError(f"expected {len(self.specs)} properties ({[s.name for s in self.specs]}), "
                             f"got {values.shape[-1]}")
        # asking a CUDA tensor this waits for the GPU, so training skips it: condition_values
        # checked the training rows once where they entered
        if not self.training and not torch.isfinite(values).all():
            raise ValueError("a condition value is NaN or infinite; fill missing targets first (fill_missing)")
        return self.mix(torch.cat([emb(values[:, i]) for i, emb in enumerate(self.embeddings)], -1))


class LatentMixer(nn.Module):
    def __init__(self, latent: int, condition: int, hidden: int = 256):
        super().__init__()
        self.net = mlp(latent + condition, hidden, latent, layers=2)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return z + self.net(torch.cat([z, c.to(z.dtype)], -1))


class PropertyPredictor(nn.Module):
    """z -> the min-max scaled scalar properties, and logits of each class property."""

    def __init__(self, specs: tuple[ConditionSpec, ...], latent: int, hidden: int = 256):
        super().__init__()
        self.specs = tuple(specs)
        self.sizes = [1 if s.kind == "scalar" else s.classes for s in self.specs]
        self.net = mlp(latent, hidden, sum(self.sizes), layers=2)

    def split(self, out: torch.Tensor) -> list[torch.Tensor]:
        return [part.squeeze(-1) if s.kind == "scalar" else part
                for s, part in zip(self.specs, torch.split(out, self.sizes, -1))]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Predicted property values (B, P) in their own units (class: the most likely index)."""
        parts = self.split(self.net(z).float())
        return torch.stack([s.unscale(p) if s.kind == "scalar" else p.argmax(-1).float()
                            for s, p in zip(self.specs, parts)], -1)

    def loss(self, z: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """MSE on min-max scaled scalars (Con-CDVAE) plus cross-entropy on classes."""
        parts = self.split(self.net(z).float())
        terms = [F.mse_loss(p, s.scale(values[:, i].float())) if s.kind == "scalar"
                 else F.cross_entropy(p, values[:, i].long()) for i, (s, p) in enumerate(zip(self.specs, parts))]
        return sum(terms) / len(terms)


def condition_values(table, specs: tuple[ConditionSpec, ...]) -> torch.Tensor:
    """(rows, P) condition values from a dataset's property table; ``crystal_system`` comes from
    the ``spacegroup.number`` column."""
    columns = []
    for spec in specs:
        if spec.name == "crystal_system":
            if "spacegroup.number" not in table:
                raise KeyError("crystal_system needs a 'spacegroup.number' column, which this table lacks")
            columns.append(crystal_system_index(table["spacegroup.number"].to_numpy()).astype(np.float32))
        elif spec.name in table:
            columns.append(table[spec.name].to_numpy(dtype=np.float32))
        else:
            raise KeyError(f"no column {spec.name!r} to condition on; columns: {list(table.columns)}")
    for spec, column in zip(specs, columns):
        missing = int((~np.isfinite(column)).sum())
        if missing:
            raise ValueError(f"{spec.name}: {missing} of {len(column)} rows have no finite value; "
                             f"drop those rows before conditioning on it")
    return torch.from_numpy(np.stack(columns, -1))


def crystal_system_spec() -> ConditionSpec:
    return ConditionSpec("crystal_system", "class", classes=len(CRYSTAL_SYSTEMS))


def check_targets(specs: tuple[ConditionSpec, ...], targets: torch.Tensor) -> None:
    """A clear error for targets the model never saw: a scalar outside its grid (the Gaussian
    features fade to zero there, so the condition means nothing) or a class that does not exist."""
    if targets.shape[-1] != len(specs):
        raise ValueError(f"expected {len(specs)} target columns ({[s.name for s in specs]}), got {targets.shape[-1]}")
    for i, spec in enumerate(specs):
        column = targets[:, i][~torch.isnan(targets[:, i])]
        if not len(column):
            continue
        if spec.kind == "scalar":
            bad = column[(column < spec.lo) | (column > spec.hi)]
            if len(bad):
                raise ValueError(f"target {spec.name} = {float(bad[0]):g} lies outside [{spec.lo:g}, {spec.hi:g}], the "
                                 f"range the model was trained on; pass allow_extrapolation=True to try anyway")
        elif ((column != column.round()) | (column < 0) | (column >= spec.classes)).any():
            raise ValueError(f"target {spec.name} must be a class index 0..{spec.classes - 1}")


def fill_missing(targets: torch.Tensor, reference: torch.Tensor, generator: torch.Generator | None = None, *,
                 nearest: int | None = None, scale: torch.Tensor | None = None) -> torch.Tensor:
    """Complete the conditions: every NaN target takes its value from one reference row (the same
    row for all of a sample's missing properties, so they stay mutually consistent).

    ``nearest=None``: a random row (Con-CDVAE's "less" strategy). ``nearest=k``: a random row among
    the k whose *given* properties lie closest to the targets (distance in units of ``scale``), so
    the filled values are ones that occur together with the targets: a formation energy of
    -4 eV/atom comes with the band gaps and crystal systems of fluorides, not of a random metal.
    """
    reference = reference.to(targets.device)
    given = ~torch.isnan(targets)
    if nearest is None:
        rows = torch.randint(0, len(reference), (len(targets),), generator=generator, device=targets.device)
    else:
        scale = torch.ones(targets.shape[1], device=targets.device) if scale is None else scale.to(targets.device)
        rows = torch.cat([_matched_rows(targets[i:i + 512], given[i:i + 512], reference, scale, nearest, generator)
                          for i in range(0, len(targets), 512)])        # chunks bound the (B, R, P) distances
    return torch.where(given, targets, reference[rows])


def _matched_rows(targets, given, reference, scale, nearest, generator):
    gaps = ((reference[None] - targets[:, None].nan_to_num(0.0)) / scale) ** 2          # (B, R, P)
    distance = torch.where(given[:, None], gaps, torch.zeros_like(gaps)).sum(-1)
    # a tiny random jitter breaks ties at random (and makes rows with no targets pick uniformly)
    distance = distance + 1e-6 * torch.rand(distance.shape, device=targets.device, generator=generator)
    closest = distance.topk(min(nearest, len(reference)), dim=1, largest=False).indices
    pick = torch.randint(0, closest.shape[1], (len(targets), 1), generator=generator, device=targets.device)
    return closest.gather(1, pick).squeeze(1)


__all__ = ["CRYSTAL_SYSTEMS", "crystal_system_index", "ConditionSpec", "ScalarEmbedding", "ClassEmbedding",
           "ConditionEncoder", "LatentMixer", "PropertyPredictor", "condition_values", "crystal_system_spec", "check_targets",
           "fill_missing"]

"""What the chains need from the rest of the course: their states as GNN batches, the classifier
term of log π, the harvest test, and de-duplication of harvested crystals."""
from __future__ import annotations

from typing import Sequence

import torch

from ..autoregressive.sites import SiteBatch, concat
from ..crystal import CrystalBatch
from ..wyckoff import to_crystal_batch


def site_crystals(state: SiteBatch) -> CrystalBatch:
    """Conventional cells of a batch of chains, built on the chains' device (no pymatgen round trip)."""
    return to_crystal_batch(state.space_group, state.wyckoff, state.free, state.site_mask, state.element,
                            state.lattice, symmetrise=False)


def classifier_term(classifier, conditions: Sequence[str], calibrated: bool = True):
    """``state -> (B, len(conditions))`` log p(condition | crystal) from the classifier, with its
    fitted temperatures (``calibrated=False``: its raw probabilities)."""
    columns = [classifier.conditions.index(name) for name in conditions]
    return lambda state: classifier.log_probability(site_crystals(state), calibrated=calibrated)[:, columns]


def harvest_test(classifier, thresholds: dict[str, float]):
    """``state -> (B,) bool``: every named condition's probability at or above its threshold."""
    columns = [classifier.conditions.index(name) for name in thresholds]
    limits = torch.tensor(list(thresholds.values()))

    def passes(state: SiteBatch) -> torch.Tensor:
        probabilities = classifier.log_probability(site_crystals(state))[:, columns].exp()
        return (probabilities >= limits.to(probabilities.device)).all(1)     # NaN (unscoreable) never passes

    return passes


def distinct(batches: Sequence[SiteBatch], coordinate_digits: int = 2, lattice_digits: int = 1) -> SiteBatch:
    """Harvested crystals once each: a chain that stays put is harvested again every time, so states
    equal after rounding (free coordinates to 0.01, lattice to 0.1 Å / 0.1°) count once. The
    StructureMatcher check of uniqueness still follows in the evaluation, as everywhere else."""
    state = concat(batches).to("cpu")
    key = torch.cat([state.space_group[:, None].double(), state.wyckoff.double(), state.element.double(),
                     torch.round(state.free.double().flatten(1) * 10 ** coordinate_digits),
                     torch.round(state.lattice.double() * 10 ** lattice_digits)], dim=1)
    _, inverse = torch.unique(key, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), len(inverse), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(inverse)), reduce="amin")
    return state.select(first.sort().values)

"""A periodic-table description of every element, for the score network's element embedding and
element logits (as CGCNN's atom features): group, period, block, electronegativity, radius and the
oxidation states pymatgen lists.

A plain embedding learns each element from its own crystals only, and on 9,000 training crystals
a rare element has few. Shared chemistry (Na behaves like K, F like Cl, both sides of a charge
balance carry their states) lets every element learn from its neighbours. On MP-20 it lowered the
held-out element loss a little and left composition validity where it was (`lab/findings_by_notebook.md`, section 04).
"""
from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
import torch

from .elements import NUM_ELEMENTS

OXIDATION_STATES = range(-5, 9)


def _one_hot(index: int, size: int) -> list[float]:
    row = [0.0] * size
    if 0 <= index < size:
        row[index] = 1.0
    return row


def _element_row(z: int) -> tuple[list[float], list[float]]:
    """(indicator features, raw scalar features) of element z."""
    from pymatgen.core import Element

    element = Element.from_Z(z)
    with warnings.catch_warnings():   # noble gases have no Pauling electronegativity: NaN, flagged below
        warnings.simplefilter("ignore")
        electronegativity = element.X
    states = set(element.oxidation_states)
    common = set(element.common_oxidation_states)
    indicators = ([float(s in states) for s in OXIDATION_STATES] + [float(s in common) for s in OXIDATION_STATES]
                  + _one_hot(element.group - 1, 18) + _one_hot(element.row - 1, 7)
                  + _one_hot("spdf".find(element.block), 4)
                  + [float(element.is_lanthanoid), float(element.is_actinoid), float(element.is_metal),
                     float(element.is_halogen), float(element.is_chalcogen), float(element.is_alkali),
                     float(element.is_alkaline)])
    known = not math.isnan(electronegativity)
    radius = element.atomic_radius
    scalars = [electronegativity if known else np.nan, float(radius) if radius is not None else np.nan,
               float(element.mendeleev_no)]
    return indicators + [float(not known)], scalars


@lru_cache(maxsize=1)
def _table() -> np.ndarray:
    rows = [_element_row(z) for z in range(1, NUM_ELEMENTS + 1)]
    indicators = np.array([r[0] for r in rows])
    scalars = np.array([r[1] for r in rows])
    mean, std = np.nanmean(scalars, 0), np.nanstd(scalars, 0)
    # a missing value sits at the column's mean (0 after scaling); the last indicator flags unknown X
    scaled = np.nan_to_num((scalars - mean) / std, nan=0.0)
    return np.concatenate([indicators, scaled], 1).astype(np.float32)


def element_feature_table() -> torch.Tensor:
    """(100, F) features of Z = 1..100, row z - 1 for element z."""
    return torch.from_numpy(_table().copy())

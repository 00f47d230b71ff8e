"""The yes/no questions a property-conditioned sampler asks of a crystal, as labels from a table.

A condition is a window on one property column: ``low <= value <= high`` (``low < value`` with
``strict_low``). Missing values give NaN labels, which training ignores.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Condition:
    column: str
    low: float = -math.inf
    high: float = math.inf
    strict_low: bool = False

    def _values(self, frame_or_values) -> np.ndarray:
        if isinstance(frame_or_values, pd.DataFrame):
            return frame_or_values[self.column].to_numpy(dtype=np.float64)
        return np.asarray(frame_or_values, dtype=np.float64)

    def labels(self, frame_or_values) -> np.ndarray:
        """Bool per row (a missing value counts as False here; `label_matrix` keeps it as NaN)."""
        v = self._values(frame_or_values)
        above = v > self.low if self.strict_low else v >= self.low
        return above & (v <= self.high)

    def describe(self) -> str:
        low = "" if self.low == -math.inf else f"{self.low:g} {'<' if self.strict_low else '≤'} "
        high = "" if self.high == math.inf else f" ≤ {self.high:g}"
        return f"{low}{self.column}{high}"

    def as_dict(self) -> dict:
        return asdict(self)


# MP-20's conditions for PODGen-style sampling (band gaps in eV, formation energies in eV/atom).
# No e_above_hull condition: MP-20 kept only crystals within 0.08 eV/atom of the hull, so "near the
# hull" holds for every row and a classifier trained on it learns nothing (and no judge scores it).
# Positive rates on MP-20 val: gap_window 5.4 %, insulating 31.1 %, strongly_bound 24.2 %.
CONDITIONS: dict[str, Condition] = {
    "gap_window": Condition("band_gap", low=2.5, high=3.5),
    "insulating": Condition("band_gap", low=0.5, strict_low=True),
    "strongly_bound": Condition("formation_energy_per_atom", high=-2.0),
}


def label_matrix(frame: pd.DataFrame, names: Sequence[str],
                 conditions: Mapping[str, Condition] = CONDITIONS) -> np.ndarray:
    """(rows, conditions) of 1.0 / 0.0, NaN where the property is missing."""
    columns = []
    for name in names:
        condition = conditions[name]
        values = condition._values(frame)
        columns.append(np.where(np.isnan(values), np.nan, condition.labels(values).astype(np.float64)))
    return np.stack(columns, axis=1)


def positive_rates(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, float]:
    """Share of labelled rows meeting each condition: how rare each target is."""
    return {name: float(np.nanmean(column)) for name, column in zip(names, label_matrix(frame, names).T)}

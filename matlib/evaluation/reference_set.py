"""The reference (test) set of ``evaluate()``: its structures and fingerprints, computed once."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymatgen.core import Structure

from .fingerprints import Fingerprints, compute_fingerprints
from .properties import Judge, density, num_elements, run_judge


@dataclass
class ReferenceSet:
    """Reference (test) structures with their fingerprints, computed once and reusable.

    Fingerprinting 9,000 MP-20 test crystals takes ~10 CPU-minutes: build this once with
    :func:`prepare_reference` (or ``reference_cache.split_reference``, cached on disk) and pass it
    to every ``evaluate`` call. Judge values are cached
    per judge object.
    """

    structures: list[Structure]
    fingerprints: Fingerprints
    judged: dict[int, tuple[Judge, np.ndarray]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.structures)

    @functools.cached_property
    def densities(self) -> np.ndarray:
        # every evaluate() call compares with these: computed once per reference set
        return np.array([density(s) for s in self.structures])

    @functools.cached_property
    def element_counts(self) -> np.ndarray:
        return np.array([num_elements(s) for s in self.structures])

    def judge(self, judge: Judge) -> np.ndarray:
        # keyed by identity; the judge is kept alive with its values so its id cannot be reused
        cached = self.judged.get(id(judge))
        if cached is None or cached[0] is not judge:
            cached = self.judged[id(judge)] = (judge, run_judge(judge, self.structures))
        return cached[1]


def _structures_of(data: Any) -> list[Structure]:
    # a CrystalDataset (load_split) or a plain list
    return list(data.structures) if hasattr(data, "structures") else list(data)


def prepare_reference(reference: Any, *, executor=None, progress_bar: bool = True) -> ReferenceSet:
    """Fingerprint a reference set (a list of Structures or a ``load_split`` dataset)."""
    if isinstance(reference, ReferenceSet):
        return reference
    structures = [s for s in _structures_of(reference) if s is not None]
    if not structures:
        raise ValueError("the reference set is empty")
    fps = compute_fingerprints(structures, executor=executor, progress_bar=progress_bar)
    return ReferenceSet(structures, fps)

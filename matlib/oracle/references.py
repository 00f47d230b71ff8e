"""A dataset's references on CHGNet's scale: elemental chemical potentials fitted to its formation
energies, and its reference hull, from the cached labels (``labels``)."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

import pandas as pd

from .hull import ReferenceHull, reference_hull
from .labels import elemental_energies, load_labels

# the formation-energy column each dataset's elemental references are fitted to
FORMATION_COLUMN = {"mp_20": "formation_energy_per_atom", "perov_5": "heat_ref"}


def fitted_references(dataset: str, root: Path | None = None):
    """Elemental references μ on CHGNet's scale, fitted on ``val`` so that E − Σ x μ reproduces the
    dataset's formation energies (``formation.fit_elemental_references``)."""
    from ..datasets import load_table
    from .formation import fit_elemental_references
    labels = load_labels(dataset, "val", root)
    table = load_table(dataset, "val")[["material_id", FORMATION_COLUMN[dataset]]]
    table["material_id"] = table["material_id"].astype(str)
    rows = labels.merge(table, on="material_id", how="left", validate="one_to_one")
    return fit_elemental_references(rows["e_relaxed"], rows["formula"].tolist(), rows[FORMATION_COLUMN[dataset]])


def dataset_hull(dataset: str, splits: Sequence[str] = ("val", "test"), root: Path | None = None,
                 elemental: str = "fitted") -> ReferenceHull:
    """The reference hull of a dataset: relaxed CHGNet energies of the given splits plus an elemental
    entry per element (the dataset's own elemental crystals compete with it).

    ``elemental="fitted"``: the μ fitted to the dataset's formation energies (``fitted_references``),
    so the hull sits where the dataset's formation energies put it; elements outside the fit get
    their best relaxed prototype. ``"prototypes"``: the other way round. Prototypes misjudge the
    molecular elements (O, N, H, halogens): a close-packed O crystal is not O₂.
    """
    if elemental not in ("fitted", "prototypes"):
        raise ValueError(f"elemental must be 'fitted' or 'prototypes', not {elemental!r}")
    prototypes, fitted = elemental_energies(root), fitted_references(dataset, root)
    # the other kind fills in where one has nothing (no prototype of H, Cl, noble gases survives)
    references = {**prototypes, **fitted} if elemental == "fitted" else {**fitted, **prototypes}
    frames = [load_labels(dataset, split, root) for split in splits]
    rows = pd.concat(frames, ignore_index=True)
    hull = reference_hull(rows["e_relaxed"].to_numpy(), rows["formula"].tolist(), elemental=references,
                          relax_missing=False)
    geometry = "DFT geometry" if all(f.attrs["manifest"].get("relax") is None for f in frames) else "CHGNet-relaxed"
    hull.description = (f"CHGNet energies of {dataset} {'+'.join(splits)} ({int(rows['e_relaxed'].notna().sum())} "
                        f"crystals, {geometry}) + {elemental} elemental references")
    return hull


@functools.lru_cache(maxsize=4)
def cached_dataset_hull(dataset: str) -> ReferenceHull:
    """``dataset_hull(dataset)`` from the default label folder, built once per process."""
    return dataset_hull(dataset)

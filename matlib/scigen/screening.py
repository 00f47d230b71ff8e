"""SCIGEN's pre-screening funnel, with the series' own judges where SCIGEN used private classifiers.

Stages, each applied to the survivors of the previous one:

1. ``smact_valid``: SCIGEN's ``charge_neutrality``, which is CDVAE's SMACT composition validity
   (a neutral oxidation-state assignment passing the Pauling test; one element or all metals pass);
2. ``occupation_ok``: space occupation ratio < 1.7, the summed covalent-sphere volumes of the atoms
   over the cell volume (SCIGEN's second filter: cells stuffed with overlapping atoms);
3. ``struct_valid``: CDVAE's structure validity (all atoms ≥ 0.5 Å apart);
4. then, on a random subset, the CHGNet stability proxy of ``evaluation.stability``: the relaxation
   neither explodes nor leaves atoms < 0.5 Å apart (``relaxed_ok``), the motif survives it
   (``motif_after_relax``), and the forces converge (``converged``).

SCIGEN's last two stages were GNN classifiers (pristine vs. diffused structure, E_hull < 0.1 eV/atom)
trained on its own data; CHGNet relaxation stands in for them here.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
from ase.data import covalent_radii
from pymatgen.core import Structure

from ..parallel import parallel_map
from ..evaluation.validity import check_structure, composition_validity

MAX_OCCUPATION = 1.7


def occupation_ratio(structure: Structure) -> float:
    spheres = sum(4 / 3 * math.pi * covalent_radii[site.specie.Z] ** 3 for site in structure)
    return float(spheres / (abs(structure.volume) + 1e-4))


def _screen_one(structure: Structure | None) -> dict:
    row = {"smact_valid": False, "occupation_ratio": np.nan, "struct_valid": False}
    if structure is None:
        return row
    row["smact_valid"] = composition_validity(structure)
    row["struct_valid"] = check_structure(structure)[1]
    try:
        row["occupation_ratio"] = occupation_ratio(structure)
    except Exception:
        pass
    return row


def screening_table(structures: Sequence[Structure | None], *, executor=None, progress_bar: bool = True) -> pd.DataFrame:
    """Per structure: ``smact_valid``, ``occupation_ratio``, ``occupation_ok``, ``struct_valid``,
    ``valid`` (CDVAE's: SMACT and structure) and ``passes_screen`` (stages 1–3)."""
    frame = pd.DataFrame(parallel_map(_screen_one, structures, executor=executor, desc="screening",
                                      progress_bar=progress_bar))
    frame["occupation_ok"] = frame["occupation_ratio"] < MAX_OCCUPATION
    frame["valid"] = frame["struct_valid"] & frame["smact_valid"]
    frame["passes_screen"] = frame["smact_valid"] & frame["occupation_ok"] & frame["struct_valid"]
    return frame


def funnel(counts: Sequence[tuple[str, float]]) -> pd.DataFrame:
    """A funnel table from ``(stage, count)`` pairs: count, share of all, share of the previous stage."""
    frame = pd.DataFrame(counts, columns=["stage", "count"])
    total = frame["count"].iloc[0]
    frame["share_of_generated"] = frame["count"] / total if total else np.nan
    previous = frame["count"].shift(1).fillna(total).replace(0, np.nan)
    frame["share_of_previous"] = frame["count"] / previous
    return frame


__all__ = ["MAX_OCCUPATION", "occupation_ratio", "screening_table", "funnel"]

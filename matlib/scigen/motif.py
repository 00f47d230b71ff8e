"""Does a crystal still contain its motif? Bond lengths and bond angles of the constrained sites.

The motif's bonds (site pairs with cell offsets, from the template) are measured in the crystal's
own cell. The motif is kept when every bond is within ``length_tol`` of the bonds' mean length and
every angle between two bonds is within ``angle_tol`` degrees of the template's angle. A uniform
change of d is allowed (relaxation may shrink or stretch the motif); shear, breathing (alternating
bond lengths) and buckling out of the plane are not. Relaxation keeps the atom order, so the motif
atoms stay the first k; if an atom moved to another periodic image, the bond is taken to the image
nearest the template's.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from pymatgen.core import Structure

from .templates import Motif, Template


def _bond_vectors(frac: np.ndarray, matrix: np.ndarray, motif: Motif, reference: np.ndarray) -> np.ndarray:
    vectors = []
    for bond in motif.bonds:
        image = np.array([*bond.image, 0.0])
        expected = reference[bond.j] + image - reference[bond.i]
        delta = frac[bond.j] + image - frac[bond.i]
        delta = expected + (delta - expected - np.round(delta - expected))
        vectors.append(delta @ matrix)
    return np.array(vectors)


def _angles(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.degrees(np.arccos(np.clip(unit @ unit.T, -1, 1)))


def motif_deviation(structure: Structure, motif: Motif) -> tuple[float, float]:
    """(largest relative bond-length deviation from the mean, largest bond-angle error in degrees)."""
    k = motif.num_sites
    if len(structure) < k:
        return np.inf, np.inf
    frac = np.asarray(structure.frac_coords[:k], float)
    vectors = _bond_vectors(frac, np.asarray(structure.lattice.matrix, float), motif, motif.frac)
    lengths = np.linalg.norm(vectors, axis=1)
    if not np.all(np.isfinite(lengths)) or lengths.min() <= 1e-8:
        return np.inf, np.inf
    length_error = float(np.abs(lengths / lengths.mean() - 1).max())
    angle_error = float(np.abs(_angles(vectors) - _ideal_angles(motif.template)).max()) if len(vectors) > 1 else 0.0
    return length_error, angle_error


def motif_kept(structure: Structure | None, motif: Motif, length_tol: float = 0.1, angle_tol: float = 10.0) -> bool:
    if structure is None:
        return False
    try:
        length_error, angle_error = motif_deviation(structure, motif)
    except Exception:   # a singular or non-finite cell
        return False
    return length_error <= length_tol and angle_error <= angle_tol


@lru_cache(maxsize=None)
def _ideal_angles(template: Template) -> np.ndarray:
    """Angles between the template's bonds: scale-free, so one per template (not per crystal)."""
    cell = np.eye(3)
    cell[:2, :2] = template.plane_vectors()
    motif = template.motif(1.0)
    return _angles(_bond_vectors(motif.frac, cell, motif, motif.frac))

__all__ = ["motif_deviation", "motif_kept"]

"""Turning whatever a generator produced into a list of `Structure | None`, one per sample.

A generated sample may be garbage (NaN lattice, zero volume, unknown atomic numbers). Such a
sample becomes ``None`` here (or a Structure that later fails validity): it is counted, never
dropped, so every metric keeps the same denominator, the number of generated samples.

Accepted inputs:

* a sequence of pymatgen ``Structure`` (``None`` entries allowed: "could not be built");
* a :class:`matlib.crystal.CrystalBatch`;
* a sequence of dicts of arrays in CDVAE's layout (``frac_coords``, ``atom_types`` and either
  ``lengths`` + ``angles`` in Å/degrees, or a 3x3 ``lattice``).
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
from pymatgen.core import IStructure, Lattice, Structure

from ..crystal import CrystalBatch


def _from_arrays(atom_types, frac_coords, lattice=None, lengths=None, angles=None) -> Structure | None:
    try:
        types = np.asarray(atom_types).reshape(-1).astype(int).tolist()
        frac = np.asarray(frac_coords, dtype=float).reshape(-1, 3)
        if lattice is not None:
            lat = Lattice(np.asarray(lattice, dtype=float).reshape(3, 3))
        else:
            params = [float(x) for x in np.asarray(lengths).reshape(-1)] + [float(x) for x in np.asarray(angles).reshape(-1)]
            if min(params[:3]) < 0:  # CDVAE: non_positive_lattice
                return None
            lat = Lattice.from_parameters(*params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Structure(lat, types, frac)
    except Exception:  # any construction failure means "not constructed", as in CDVAE
        return None


def _from_batch(batch: CrystalBatch) -> list[Structure | None]:
    types = batch.atom_types.detach().cpu().numpy()
    frac = batch.frac_coords.detach().cpu().double().numpy()
    lat = batch.lattice.detach().cpu().double().numpy()
    out, start = [], 0
    for b, n in enumerate(batch.num_atoms.tolist()):
        out.append(_from_arrays(types[start:start + n], frac[start:start + n], lattice=lat[b]))
        start += n
    return out


def _one(item: Any) -> Structure | None:
    if item is None or isinstance(item, Structure):
        return item
    if isinstance(item, IStructure):  # immutable structures work too, as mutable copies
        return Structure.from_sites(item)
    if isinstance(item, dict):
        return _from_arrays(item.get("atom_types"), item.get("frac_coords"), lattice=item.get("lattice"),
                            lengths=item.get("lengths"), angles=item.get("angles"))
    raise TypeError(f"cannot evaluate a {type(item).__name__}: pass pymatgen Structures, a CrystalBatch "
                    "or dicts with atom_types/frac_coords/lengths/angles")


def as_structures(samples: Sequence[Any] | CrystalBatch) -> list[Structure | None]:
    """One ``Structure`` (or ``None`` when it cannot be built) per generated sample, in order."""
    if isinstance(samples, CrystalBatch):
        return _from_batch(samples)
    return [_one(item) for item in samples]


__all__ = ["as_structures"]

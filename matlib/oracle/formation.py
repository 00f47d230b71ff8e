"""Formation energies on CHGNet's scale: elemental chemical potentials fitted to a dataset.

CHGNet's energy per atom and a dataset's formation energy per atom differ by Σ x_el μ_el (the
atomic fractions times elemental reference energies, plus whatever corrections the dataset
applied). ``fit_elemental_references`` finds the μ by least squares over many crystals;
``formation_energy`` then turns any CHGNet energy into a formation energy on the dataset's scale.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from pymatgen.core import Composition


class ElementalReferences(dict):
    """{element symbol: μ in eV/atom}, plus how well the fit did (``residual_mae`` eV/atom, ``n_rows``)."""

    residual_mae: float = np.nan
    n_rows: int = 0
    skipped: int = 0


def _fractions(compositions: Sequence, elements: list[str]) -> np.ndarray:
    column = {el: j for j, el in enumerate(elements)}
    x = np.zeros((len(compositions), len(elements)))
    for i, comp in enumerate(compositions):
        for el, frac in Composition(comp).fractional_composition.get_el_amt_dict().items():
            x[i, column[el]] = frac
    return x


def fit_elemental_references(energies_per_atom: Sequence[float], compositions: Sequence,
                             formation_energies: Sequence[float]) -> ElementalReferences:
    """Least-squares μ from (CHGNet energy − formation energy) per atom against atomic fractions.

    Rows with a non-finite energy are skipped and counted (``skipped``). An element seen in too few
    independent compositions is still fitted (numpy's minimum-norm solution); check ``residual_mae``.
    """
    e = np.asarray(energies_per_atom, dtype=float)
    ef = np.asarray(formation_energies, dtype=float)
    if not (len(e) == len(ef) == len(compositions)):
        raise ValueError(f"lengths differ: {len(e)} energies, {len(compositions)} compositions, {len(ef)} formation")
    keep = np.isfinite(e) & np.isfinite(ef)
    comps = [Composition(c) for c, k in zip(compositions, keep) if k]
    if not comps:
        raise ValueError("no row has finite energies to fit elemental references on")
    elements = sorted({el.symbol for c in comps for el in c.elements})
    x = _fractions(comps, elements)
    target = e[keep] - ef[keep]
    mu, *_ = np.linalg.lstsq(x, target, rcond=None)
    out = ElementalReferences(zip(elements, map(float, mu)))
    out.residual_mae = float(np.mean(np.abs(x @ mu - target)))
    out.n_rows, out.skipped = int(keep.sum()), int((~keep).sum())
    return out


def formation_energy(energies_per_atom: Sequence[float], compositions: Sequence, references: dict) -> np.ndarray:
    """E − Σ x_el μ_el per atom (eV/atom); NaN where an element has no reference or E is not finite."""
    e = np.asarray(energies_per_atom, dtype=float)
    out = np.full(len(e), np.nan)
    for i, comp in enumerate(compositions):
        amounts = Composition(comp).fractional_composition.get_el_amt_dict()
        if np.isfinite(e[i]) and all(el in references for el in amounts):
            out[i] = e[i] - sum(frac * references[el] for el, frac in amounts.items())
    return out

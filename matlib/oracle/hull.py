"""Convex hulls on CHGNet's energy scale: E_hull and S.U.N. rates of generated crystals.

``reference_hull`` collects CHGNet energies of reference crystals (e.g. relaxed MP-20) into a
``ReferenceHull``: one pymatgen ``PhaseDiagram`` per chemical system, built when first asked for
from the entries whose elements lie inside it (a hull over all 89 elements at once is far beyond
qhull; the hull at a composition depends only on that composition's own chemical system). Every element needs an elemental entry; where the references have none,
``elemental_references`` relaxes fcc, bcc, hcp, simple cubic and diamond prototypes (lattice
constants guessed from atomic radii) and keeps the lowest energy per atom.

S.U.N., as MatterGen defines it: the share of ALL generated crystals that are stable (E_hull ≤ the
threshold), unique and novel, and valid. Invalid or unrelaxable crystals count against it.
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections import defaultdict
from typing import Iterable, Sequence

import numpy as np
from typing import TYPE_CHECKING
from pymatgen.core import Composition, Element, Lattice, Structure

from .batched import relax

if TYPE_CHECKING:      # pymatgen's phase_diagram module imports plotly: loaded only when a hull is built
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram


def _pd_entry(composition, energy: float) -> "PDEntry":
    from pymatgen.analysis.phase_diagram import PDEntry
    return PDEntry(composition, energy)

PROTOTYPES = ("fcc", "bcc", "hcp", "sc", "diamond")
STABILITY_TOLERANCE = 1e-6     # eV/atom: "on the hull" survives floating-point noise


def prototype(element: str, kind: str) -> Structure:
    """An elemental crystal of the given prototype, nearest neighbours at twice the atomic radius."""
    el = Element(element)
    r = el.atomic_radius or el.atomic_radius_calculated or 1.5
    if kind == "fcc":
        return Structure(Lattice.cubic(2 * math.sqrt(2) * r), [el] * 4, [[0, 0, 0], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])
    if kind == "bcc":
        return Structure(Lattice.cubic(4 * r / math.sqrt(3)), [el] * 2, [[0, 0, 0], [.5, .5, .5]])
    if kind == "sc":
        return Structure(Lattice.cubic(2 * r), [el], [[0, 0, 0]])
    if kind == "hcp":
        return Structure(Lattice.hexagonal(2 * r, 2 * r * math.sqrt(8 / 3)), [el] * 2,
                         [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])
    if kind == "diamond":
        return Structure.from_spacegroup("Fd-3m", Lattice.cubic(8 * r / math.sqrt(3)), [el], [[0, 0, 0]])
    raise ValueError(f"unknown prototype {kind!r}; choose from {PROTOTYPES}")


def prototype_energies(elements: Sequence[str], steps: int = 200, fmax: float = 0.05, device: str | None = None,
                       executor=None, batch_size: int = 64):
    """One row per element and prototype (``PROTOTYPES``), all relaxed in one batch: ``relax``'s
    columns plus ``element`` and ``prototype``."""
    jobs = [(el, kind) for el in elements for kind in PROTOTYPES]
    _, table = relax([prototype(el, kind) for el, kind in jobs], steps=steps, fmax=fmax, device=device,
                     executor=executor, batch_size=batch_size)
    table.insert(0, "prototype", [kind for _, kind in jobs])
    table.insert(0, "element", [el for el, _ in jobs])
    return table


def elemental_references(elements: Sequence[str], steps: int = 200, fmax: float = 0.05,
                         device: str | None = None) -> dict[str, tuple[float, str]]:
    """{element: (lowest relaxed CHGNet energy per atom, prototype)} over ``PROTOTYPES``, one batch.

    An element whose prototypes all failed is left out (``reference_hull`` then says so).
    """
    return lowest_per_element(prototype_energies(elements, steps=steps, fmax=fmax, device=device))


def lowest_per_element(table) -> dict[str, tuple[float, str]]:
    """{element: (lowest relaxed energy per atom, its prototype)} of a ``prototype_energies`` table."""
    table = table.dropna(subset=["e_relaxed"])
    best = table.loc[table.groupby("element")["e_relaxed"].idxmin()]
    return {row.element: (float(row.e_relaxed), row.prototype) for row in best.itertuples()}


class ReferenceHull:
    """Reference entries grouped by chemical system; ``diagram(elements)`` is that system's
    ``PhaseDiagram`` (cached). Quacks like a ``PhaseDiagram`` for ``e_above_hull``."""

    def __init__(self, entries: Iterable[PDEntry], description: str = "reference hull"):
        self.all_entries = list(entries)
        self.description = description
        self._by_system: dict[frozenset, list[PDEntry]] = defaultdict(list)
        for entry in self.all_entries:
            self._by_system[frozenset(el.symbol for el in entry.composition.elements)].append(entry)
        self.elements = sorted({el for entry in self.all_entries for el in entry.composition.elements})
        self._diagrams: dict[frozenset, PhaseDiagram] = {}

    def __len__(self) -> int:
        return len(self.all_entries)

    def diagram(self, elements: Iterable[str]) -> PhaseDiagram:
        system = frozenset(elements)
        if system not in self._diagrams:
            entries = [entry for size in range(1, len(system) + 1)
                       for subset in itertools.combinations(sorted(system), size)
                       for entry in self._by_system.get(frozenset(subset), [])]
            from pymatgen.analysis.phase_diagram import PhaseDiagram
            self._diagrams[system] = PhaseDiagram(entries)
        return self._diagrams[system]

    def get_e_above_hull(self, entry: PDEntry, allow_negative: bool = True) -> float:
        diagram = self.diagram(el.symbol for el in entry.composition.elements)
        return diagram.get_e_above_hull(entry, allow_negative=allow_negative)


def reference_hull(energies_per_atom: Sequence[float], compositions: Sequence,
                   elemental: dict[str, float] | None = None, relax_missing: bool = True,
                   device: str | None = None) -> ReferenceHull:
    """The references' hull (total energy = energy per atom × atoms), non-finite rows skipped.

    ``elemental``: extra {element: energy per atom}; elements with no elemental entry at all get one
    from relaxed prototypes (``relax_missing``) or raise ValueError.
    """
    entries = [_pd_entry(Composition(c), float(e) * Composition(c).num_atoms)
               for c, e in zip(compositions, energies_per_atom) if np.isfinite(e)]
    entries += [_pd_entry(Composition(el), float(e)) for el, e in (elemental or {}).items()]
    elements = {el.symbol for entry in entries for el in entry.composition.elements}
    covered = {entry.composition.elements[0].symbol for entry in entries if entry.composition.is_element}
    missing = sorted(elements - covered)
    if missing and relax_missing:
        found = elemental_references(missing, device=device)
        entries += [_pd_entry(Composition(el), energy) for el, (energy, _) in found.items()]
        missing = sorted(set(missing) - set(found))
    if missing:
        raise ValueError(f"no elemental reference for {missing}; pass elemental= or relax_missing=True")
    return ReferenceHull(entries)


def e_above_hull(phase_diagram: ReferenceHull | PhaseDiagram, structures_or_compositions: Sequence,
                 energies_per_atom: Sequence[float]) -> np.ndarray:
    """E_hull (eV/atom; negative = below the reference hull) of each crystal.

    NaN where the energy is not finite or an element lies outside the hull's chemical space; those
    are counted in a warning.
    """
    space = {el.symbol for el in phase_diagram.elements}
    out = np.full(len(energies_per_atom), np.nan)
    for i, (item, energy) in enumerate(zip(structures_or_compositions, energies_per_atom)):
        comp = item.composition if isinstance(item, Structure) else Composition(item)
        if not np.isfinite(energy) or not {el.symbol for el in comp.elements} <= space:
            continue
        entry = _pd_entry(comp, float(energy) * comp.num_atoms)
        out[i] = phase_diagram.get_e_above_hull(entry, allow_negative=True)
    if np.isnan(out).any():
        warnings.warn(f"{int(np.isnan(out).sum())} of {len(out)} crystals have no E_hull "
                      f"(non-finite energy or elements outside {sorted(space)})", stacklevel=2)
    return out


def sun_rates(e_hull: Sequence[float], valid: Sequence[bool], unique: Sequence[bool], novel: Sequence[bool],
              thresholds: Sequence[float] = (0.1, 0.0)) -> dict[str, float]:
    """Shares among ALL generated crystals: valid, unique, novel, and per threshold t (eV/atom)
    ``stable@t`` (E_hull ≤ t; NaN counts as not stable) and ``sun@t`` (stable, unique, novel and valid)."""
    e = np.asarray(e_hull, dtype=float)
    flags = [np.asarray(f, dtype=bool) for f in (valid, unique, novel)]
    if any(len(f) != len(e) for f in flags):
        raise ValueError(f"e_hull has {len(e)} entries but valid/unique/novel have {[len(f) for f in flags]}")
    if len(e) == 0:
        raise ValueError("no generated crystals to rate")
    valid_, unique_, novel_ = flags
    out = {"n": float(len(e)), "valid": valid_.mean(), "unique": unique_.mean(), "novel": novel_.mean()}
    for t in thresholds:
        stable = np.nan_to_num(e, nan=np.inf) <= t + STABILITY_TOLERANCE
        out[f"stable@{t:g}"] = float(stable.mean())
        out[f"sun@{t:g}"] = float((stable & valid_ & unique_ & novel_).mean())
    return {k: float(v) for k, v in out.items()}

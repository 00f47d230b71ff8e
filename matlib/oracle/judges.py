"""The oracle as a judge, with the call shape of notebook 01's: ``judge(structures) -> values``.

Each judge relaxes the crystals with CHGNet first (generated crystals are not at a minimum; a
property of an unrelaxed cell says little), then measures. NaN where a relaxation failed: such a
crystal can never count as a success.

- ``formation_energy_judge``: E_relaxed − Σ x μ with the μ fitted on the dataset's ``val`` labels
  (``labels.fitted_references``), on the dataset's formation-energy scale (eV/atom);
- ``magnetic_density_judge``: total |site moment| per volume of the relaxed crystal (μB/Å³);
- ``bulk_modulus_judge``: Birch–Murnaghan K of the relaxed crystal (GPa).
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np
from pymatgen.core import Structure

from .batched import predict, relax
from .cell import Cell
from .eos import bulk_moduli
from .formation import formation_energy

RELAX = dict(steps=100, fmax=0.1)
MEMO_SIZE = 20_000              # relaxed crystals remembered per process (about 2 kB each at 10 atoms)
_MEMO: OrderedDict = OrderedDict()


def _described(judge, text: str):
    judge.describe = lambda: text      # what notebook 01's judges answer, for the tables' judge column
    return judge


def _memo_key(structure: Structure, steps: int, fmax: float) -> bytes | None:
    """The crystal's exact identity (elements, cell, positions) and the relaxation's settings."""
    try:
        cell = Cell.of(structure)
    except AttributeError:          # a disordered site has no single element: not remembered
        return None
    digest = hashlib.blake2b(digest_size=16)
    for part in (*cell, np.array([steps, fmax], dtype=float)):
        digest.update(np.ascontiguousarray(part).tobytes())
    return digest.digest()


def _packed(final: Structure | None, energy: float) -> tuple[Cell | None, float]:
    # arrays rather than the Structure itself: every caller gets a Structure of its own
    return (None if final is None else Cell.of(final)), energy


def _unpacked(entry: tuple[Cell | None, float]) -> tuple[Structure | None, float]:
    cell, energy = entry
    return (None if cell is None else cell.structure()), energy


def _relaxed(structures: Sequence[Structure], steps: int, fmax: float, device, executor):
    """Relaxed crystals and energies per atom. A crystal already relaxed in this process with the same
    settings is not relaxed again: the tables judge one baseline's samples for several tasks."""
    keys = [_memo_key(s, steps, fmax) for s in structures]
    results: dict[int, tuple] = {i: _unpacked(_MEMO[k]) for i, k in enumerate(keys) if k is not None and k in _MEMO}
    todo = [i for i in range(len(structures)) if i not in results]
    if todo:
        finals, table = relax([structures[i] for i in todo], steps=steps, fmax=fmax, device=device,
                              executor=executor, batch_size=512)
        for i, final, energy in zip(todo, finals, table["e_relaxed"].to_numpy(dtype=float)):
            results[i] = (final, energy)
            if keys[i] is not None:
                _MEMO[keys[i]] = _packed(final, energy)
        while len(_MEMO) > MEMO_SIZE:
            _MEMO.popitem(last=False)
    return [results[i][0] for i in range(len(structures))], np.array([results[i][1] for i in range(len(structures))],
                                                                       dtype=float)


def formation_energy_judge(dataset: str = "mp_20", *, steps: int = RELAX["steps"], fmax: float = RELAX["fmax"],
                           device: str | None = None, executor=None, references: dict | None = None
                           ) -> Callable[[Sequence[Structure]], np.ndarray]:
    """A judge of formation energy per atom by CHGNet (``references``: μ, default fitted on ``val``)."""
    if references is None:
        from .references import fitted_references
        references = fitted_references(dataset)

    def judge(structures: Sequence[Structure]) -> np.ndarray:
        _, energies = _relaxed(structures, steps, fmax, device, executor)
        return formation_energy(energies, [s.composition for s in structures], references)

    return _described(judge, f"CHGNet formation energy after <= {steps} FIRE steps (μ fitted on {dataset} val)")


def _measured_after_relaxing(measure: Callable[[list[Structure]], np.ndarray], steps: int, fmax: float, device,
                             executor) -> Callable[[Sequence[Structure]], np.ndarray]:
    """A judge that relaxes, then applies ``measure`` to the crystals that relaxed (NaN for the rest)."""
    def judge(structures: Sequence[Structure]) -> np.ndarray:
        finals, _ = _relaxed(structures, steps, fmax, device, executor)
        out = np.full(len(finals), np.nan)
        ok = [i for i, f in enumerate(finals) if f is not None]
        if ok:
            out[ok] = measure([finals[i] for i in ok])
        return out
    return judge


def magnetic_density_judge(*, steps: int = RELAX["steps"], fmax: float = RELAX["fmax"], device: str | None = None,
                           executor=None) -> Callable[[Sequence[Structure]], np.ndarray]:
    measure = lambda crystals: predict(crystals, device=device, executor=executor)["magmom_per_volume"].to_numpy()
    return _described(_measured_after_relaxing(measure, steps, fmax, device, executor),
                      f"CHGNet magnetic density (μB/Å³) after <= {steps} FIRE steps")


def bulk_modulus_judge(*, steps: int = RELAX["steps"], fmax: float = RELAX["fmax"], device: str | None = None,
                       executor=None) -> Callable[[Sequence[Structure]], np.ndarray]:
    measure = lambda crystals: bulk_moduli(crystals, device=device, executor=executor)["bulk_modulus_gpa"].to_numpy()
    return _described(_measured_after_relaxing(measure, steps, fmax, device, executor),
                      f"CHGNet bulk modulus (GPa; Birch–Murnaghan, ±5 % volume) after <= {steps} FIRE steps")

"""Structure matching: reconstruction match rate / RMSE, uniqueness and novelty.

All use pymatgen's ``StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)``, CDVAE's settings,
other arguments at pymatgen's defaults (``primitive_cell=True``, ``scale=True``,
``attempt_supercell=False``). :func:`matcher_description` spells them out for results files.

* **Reconstruction** (CDVAE ``RecEval``): for each (predicted, true) pair, an invalid prediction
  is a non-match; otherwise ``get_rms_dist(pred, true)``, ``None`` meaning no match. Match rate
  = matches / pairs; RMSE = mean of the matched RMS displacements, which pymatgen normalises by
  (V/N)^(1/3) (so it has no unit).
* **Uniqueness**: structure i is unique when it matches no earlier *unique* structure (scanning
  in input order, comparing with the first member of each group found so far, as pymatgen's
  ``group_structures`` does). The share of unique structures = number of distinct structures /
  number of structures.
* **Novelty**: a structure is novel when it matches no structure of the training set.

Efficiency: ``fit`` can only succeed between equal reduced compositions (the matcher compares
reduced formulas first) and, without supercells or subsets, between reduced cells of equal size,
so both are computed per (reduced formula, sites of the primitive Niggli cell). Each structure is
reduced once, on the executor, and the groups are spread over it too: a one-element dataset such
as Carbon-24 would otherwise be one group compared on one worker.
The compositional versions compare reduced formulas only.
"""
from __future__ import annotations

import inspect
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from typing import Sequence

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from ..parallel import parallel_map

MATCHER_SETTINGS = {"stol": 0.5, "angle_tol": 10.0, "ltol": 0.3}


def make_matcher(**overrides) -> StructureMatcher:
    return StructureMatcher(**{**MATCHER_SETTINGS, **overrides})


def matcher_description(settings: dict | None = None) -> str:
    m = make_matcher(**(settings or {}))
    return (f"pymatgen StructureMatcher(stol={m.stol}, angle_tol={m.angle_tol}, ltol={m.ltol}, "
            f"primitive_cell={m._primitive_cell}, scale={m._scale}, attempt_supercell={m._supercell})")


def reduced_formula(structure: Structure) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns when sorting elements that lack electronegativity
        return structure.composition.reduced_formula


# ---- reconstruction --------------------------------------------------------------------------

def _rms_worker(pair, settings: dict) -> float:
    pred, true = pair
    if pred is None or true is None:
        return float("nan")
    try:
        rms = make_matcher(**settings).get_rms_dist(pred, true)
    except Exception:  # CDVAE counts a matcher error as "no match" too
        return float("nan")
    return float("nan") if rms is None else float(rms[0])


@dataclass
class ReconstructionResult:
    match_rate: float
    rmse: float | None                # None when nothing matched
    n: int
    n_matched: int
    rms: np.ndarray = field(repr=False, default=None)   # per pair, NaN = no match (or invalid)


def reconstruction(predicted: Sequence[Structure | None], true: Sequence[Structure], valid: Sequence[bool] | None = None,
                   *, executor=None, settings: dict | None = None, progress_bar: bool = True) -> ReconstructionResult:
    """Match rate and mean normalised RMS displacement of predicted vs true structures (pairwise)."""
    if len(predicted) != len(true):
        raise ValueError(f"{len(predicted)} predictions for {len(true)} true structures: they must pair up")
    if valid is None:
        from .validity import validity_one
        valid = [v[1] and v[2] for v in map(validity_one, predicted)]
    pairs = [(p if ok else None, t) for p, t, ok in zip(predicted, true, valid)]
    worker = partial(_rms_worker, settings={**MATCHER_SETTINGS, **(settings or {})})
    rms = np.asarray(parallel_map(worker, pairs, executor=executor, desc="matching", progress_bar=progress_bar),
                     dtype=float)
    matched = np.isfinite(rms)
    n = len(rms)
    return ReconstructionResult(float(matched.sum() / n) if n else float("nan"),
                                float(rms[matched].mean()) if matched.any() else None, n, int(matched.sum()), rms)


# ---- uniqueness and novelty ------------------------------------------------------------------

_FIT_CAN_SKIP = "skip_structure_reduction" in inspect.signature(StructureMatcher.fit).parameters


def _reduce(matcher: StructureMatcher, structure: Structure) -> Structure:
    # the reduction fit() would redo on every call, done once (what group_structures does too)
    if not _FIT_CAN_SKIP:
        return structure
    try:
        return matcher._get_reduced_structure(structure, matcher._primitive_cell, niggli=True)
    except Exception:
        return structure


def _fits(matcher: StructureMatcher, a: Structure, b: Structure) -> bool:
    try:
        if _FIT_CAN_SKIP:
            return bool(matcher.fit(a, b, skip_structure_reduction=True))
        return bool(matcher.fit(a, b))
    except Exception:
        return False


def _reduce_one(structure: Structure, settings: dict) -> Structure:
    return _reduce(make_matcher(**settings), structure)


def _unique_in_group(reduced: list[Structure], settings: dict) -> list[bool]:
    matcher = make_matcher(**settings)
    representatives, flags = [], []
    for r in reduced:
        duplicate = any(_fits(matcher, rep, r) for rep in representatives)
        flags.append(not duplicate)
        if not duplicate:
            representatives.append(r)
    return flags


def _novel_in_group(task: tuple[list[Structure], list[Structure]], settings: dict) -> list[bool]:
    generated, known = task   # both already reduced
    matcher = make_matcher(**settings)
    return [not any(_fits(matcher, g, k) for k in known) for g in generated]


def _reduced_groups(structures: Sequence[Structure], settings: dict, executor, progress_bar: bool,
                    desc: str) -> tuple[list[Structure], dict[tuple, list[int]]]:
    """Each structure reduced once, and the indices of those that ``fit`` could match, grouped."""
    reduced = parallel_map(partial(_reduce_one, settings=settings), structures, executor=executor,
                           desc=f"{desc}: primitive cells", progress_bar=progress_bar)
    matcher = make_matcher(**settings)
    # the site count is an invariant only once fit() skips its own reduction, and without supercells or subsets
    by_size = _FIT_CAN_SKIP and not matcher._supercell and not matcher._subset
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, (s, r) in enumerate(zip(structures, reduced)):
        groups[(reduced_formula(s), len(r) if by_size else 0)].append(i)
    return reduced, groups


def unique_flags(structures: Sequence[Structure], *, executor=None, settings: dict | None = None,
                 progress_bar: bool = True) -> np.ndarray:
    """Per structure: True if it matches no earlier unique structure (first of each kind)."""
    settings = {**MATCHER_SETTINGS, **(settings or {})}
    reduced, grouped = _reduced_groups(structures, settings, executor, progress_bar, "uniqueness")
    groups = list(grouped.values())
    tasks = [[reduced[i] for i in idx] for idx in groups]
    results = parallel_map(partial(_unique_in_group, settings=settings), tasks, executor=executor,
                           desc="uniqueness", progress_bar=progress_bar)
    flags = np.zeros(len(structures), dtype=bool)
    for idx, group_flags in zip(groups, results):
        flags[idx] = group_flags
    return flags


def novel_flags(structures: Sequence[Structure], train: Sequence[Structure], *, executor=None,
                settings: dict | None = None, progress_bar: bool = True, chunk: int = 32) -> np.ndarray:
    """Per structure: True if it matches no training structure.

    Work is split by group and then into ``chunk`` generated structures per task, so a dataset of
    one formula (Carbon-24: every sample against every training crystal of its cell size) still
    spreads over workers.
    """
    settings = {**MATCHER_SETTINGS, **(settings or {})}
    formulas = {reduced_formula(s) for s in structures}
    # only training crystals that share a formula with a sample can match one: reduce just those
    train_list = [t for t in train if t is not None and reduced_formula(t) in formulas]
    train_reduced, train_groups = _reduced_groups(train_list, settings, executor, progress_bar, "novelty (training)")
    reduced, grouped = _reduced_groups(structures, settings, executor, progress_bar, "novelty")
    flags = np.ones(len(structures), dtype=bool)
    groups, tasks = [], []
    for key, idx in grouped.items():
        if key not in train_groups:  # novel without matching anything
            continue
        known = [train_reduced[j] for j in train_groups[key]]
        for start in range(0, len(idx), chunk):
            part = idx[start:start + chunk]
            groups.append(part)
            tasks.append(([reduced[i] for i in part], known))
    results = parallel_map(partial(_novel_in_group, settings=settings), tasks, executor=executor,
                           desc="novelty", progress_bar=progress_bar)
    for idx, group_flags in zip(groups, results):
        flags[idx] = group_flags
    return flags


def formula_unique_flags(structures: Sequence[Structure]) -> np.ndarray:
    """Per structure: True for the first occurrence of its reduced formula."""
    seen: set[str] = set()
    flags = []
    for s in structures:
        f = reduced_formula(s)
        flags.append(f not in seen)
        seen.add(f)
    return np.array(flags, dtype=bool)


def formula_novel_flags(structures: Sequence[Structure], train: Sequence[Structure]) -> np.ndarray:
    """Per structure: True if no training structure has its reduced formula."""
    known = {reduced_formula(t) for t in train if t is not None}
    return np.array([reduced_formula(s) not in known for s in structures], dtype=bool)


__all__ = ["MATCHER_SETTINGS", "make_matcher", "matcher_description", "ReconstructionResult", "reconstruction",
           "unique_flags", "novel_flags", "formula_unique_flags", "formula_novel_flags", "reduced_formula"]

"""Structure and composition validity, as CDVAE's ``eval_utils`` defines them.

* **Structure validity**: every pair of atoms at least 0.5 Å apart (pymatgen's periodic
  minimum-image ``distance_matrix``, off-diagonal minimum) and a cell volume of at least 0.1 Å³.
  A sample that is ``None``, has non-finite numbers or cannot be measured is invalid. As in
  CDVAE, an atom's distance to its own periodic images is not checked (a one-atom cell is valid).
* **Composition validity** (CDVAE's ``smact_validity``): one element, valid; all elements in
  ``smact.metals`` (an "alloy"), valid; otherwise valid iff some combination of SMACT oxidation
  states is charge-neutral for the gcd-reduced counts and passes the Pauling electronegativity
  test.

smact 4.x differs from the smact 2.2.1 CDVAE pinned in two ways that would silently change the
numbers, both handled here: ``neutral_ratios`` returns the list of neutral ratios (empty when
none) instead of ``(bool, ratios)``, and ``pauling_test`` returns False for a missing
electronegativity where CDVAE relied on a ``TypeError`` meaning "pass". With smact 4.0.2's data
every element lacking an electronegativity also lacks oxidation states, so the second point
cannot change a result today; we still treat "missing" as "pass", as CDVAE did.
"""
from __future__ import annotations

import itertools
import math
import warnings
from functools import lru_cache
from importlib import metadata
from typing import Sequence

import numpy as np
import pandas as pd
import smact
from pymatgen.core import Composition, Element, Structure
from smact.screening import pauling_test

from ..parallel import parallel_map

MIN_DISTANCE = 0.5   # Å, CDVAE's cutoff, the same for every dataset
MIN_VOLUME = 0.1     # Å³, below this CDVAE marks a crystal "not constructed"

try:
    _SMACT_DIST = metadata.version("smact")
except metadata.PackageNotFoundError:  # pragma: no cover - smact imported, so it is installed
    _SMACT_DIST = "unknown"
# smact 4.0.2 still reports __version__ == "4.0.0": keep both so results say exactly what ran
SMACT_VERSION = f"{_SMACT_DIST} (smact.__version__ {smact.__version__})"


# ---- structure -----------------------------------------------------------------------------

def check_structure(structure: Structure | None, cutoff: float = MIN_DISTANCE,
                    min_volume: float = MIN_VOLUME) -> tuple[bool, bool, str]:
    """``(constructed, struct_valid, reason)``; ``reason`` is "" for a valid structure.

    "constructed" is CDVAE's notion: the sample is a real cell (finite, volume ≥ ``min_volume``),
    whatever its atoms do.
    """
    if structure is None:
        return False, False, "not constructed"
    if len(structure) == 0:
        return False, False, "no atoms"
    try:
        matrix = np.asarray(structure.lattice.matrix, dtype=float)
        frac = np.asarray(structure.frac_coords, dtype=float)
        if not (np.isfinite(matrix).all() and np.isfinite(frac).all()):
            return False, False, "non-finite lattice or coordinates"
        volume = float(structure.volume)
        if not math.isfinite(volume) or volume < min_volume:
            return False, False, f"volume < {min_volume} Å³"
        if len(structure) < 2:
            return True, True, ""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dist = np.array(structure.distance_matrix, dtype=float)
    except Exception as err:  # a degenerate cell can make pymatgen raise almost anything
        return False, False, f"unmeasurable ({type(err).__name__})"
    np.fill_diagonal(dist, np.inf)
    closest = float(dist.min())
    if not math.isfinite(closest):
        return True, False, "non-finite distances"
    if closest < cutoff:
        return True, False, f"atoms closer than {cutoff} Å"
    return True, True, ""


def structure_validity(structure: Structure | None, cutoff: float = MIN_DISTANCE,
                       min_volume: float = MIN_VOLUME) -> bool:
    """CDVAE's ``structure_validity``: min pair distance ≥ ``cutoff`` Å and volume ≥ ``min_volume`` Å³."""
    return check_structure(structure, cutoff, min_volume)[1]


# ---- composition ---------------------------------------------------------------------------

def _pauling_passes(ox_states: Sequence[int], enegs: Sequence[float | None]) -> bool:
    # CDVAE (smact 2.2.1) caught the TypeError a missing electronegativity raised and passed;
    # smact 4 returns False instead, so decide "missing" ourselves before asking smact.
    if any(e is None for e in enegs):
        return True
    return bool(pauling_test(ox_states, enegs))


def smact_validity(symbols: Sequence[str], counts: Sequence[int], use_pauling_test: bool = True,
                   include_alloys: bool = True) -> bool:
    """CDVAE's ``smact_validity`` for element symbols and their (gcd-reduced) integer counts.

    Pass counts in lowest terms (see :func:`composition_key`): like CDVAE's, this function asks
    smact about exactly these counts, and smact rejects e.g. Na2Cl2.
    """
    return _smact_validity(tuple(str(s) for s in symbols), tuple(int(c) for c in counts),
                           bool(use_pauling_test), bool(include_alloys))


# Above this many oxidation-state combinations the exact shortcut below decides instead of the
# brute-force loop: a 9-element random composition has millions (seconds each in the loop).
BRUTE_FORCE_LIMIT = 20_000


@lru_cache(maxsize=None)
def element_data(symbol: str) -> tuple[tuple[int, ...], float | None] | None:
    """SMACT's oxidation states and Pauling electronegativity of an element (None: SMACT has no data).

    Cached: building a smact.Element costs more than a whole sign search.
    """
    try:
        element = smact.Element(symbol)
    except Exception:
        return None
    return tuple(element.oxidation_states or ()), element.pauling_eneg  # None means "no states"


@lru_cache(maxsize=1 << 16)
def _smact_validity(symbols: tuple[str, ...], counts: tuple[int, ...], use_pauling_test: bool,
                    include_alloys: bool) -> bool:
    # cached: generated sets repeat compositions
    if len(set(symbols)) == 1:
        return True
    if include_alloys and all(s in smact.metals for s in symbols):
        return True
    data = [element_data(s) for s in symbols]
    if any(d is None for d in data):  # an element smact has no data for: no oxidation states to try
        return False
    ox_combos, enegs = [d[0] for d in data], [d[1] for d in data]
    if math.prod(len(states) for states in ox_combos) <= BRUTE_FORCE_LIMIT:
        return _search_smact(ox_combos, enegs, counts, use_pauling_test)
    return oxidation_assignment_exists(ox_combos, enegs, counts, use_pauling_test)


def _search_smact(ox_combos, enegs, counts, use_pauling_test: bool) -> bool:
    """CDVAE's loop: every combination of states, smact's neutral_ratios, then the Pauling test."""
    stoichs = [(int(c),) for c in counts]
    threshold = int(max(counts))
    for ox_states in itertools.product(*ox_combos):
        # smact >= 3: a (possibly empty) list of neutral ratios, no longer (bool, ratios)
        if not smact.neutral_ratios(ox_states, stoichs=stoichs, threshold=threshold):
            continue
        if not use_pauling_test or _pauling_passes(ox_states, enegs):
            return True  # CDVAE collects every passing combination; one is enough to decide
    return False


def _neutral_sum_exists(choices, counts) -> bool:
    sums = {0}
    for states, c in zip(choices, counts):
        sums = {total + c * ox for total in sums for ox in states}
        if not sums:
            return False
    return 0 in sums


def oxidation_assignment_exists(ox_combos, enegs, counts, use_pauling_test: bool) -> bool:
    """The same answer as :func:`_search_smact` without enumerating the product.

    neutral_ratios with fixed stoichiometries says "neutral" iff sum(ox_i * count_i) == 0 and the
    counts are in lowest terms. The Pauling test passes iff every cation (ox > 0) is less
    electronegative than every anion (ox < 0); equivalently, some cut in electronegativity has
    all cations below it and all anions at or above it. So: for each cut, let elements below it
    take states >= 0 and the others states <= 0, and ask whether a zero charge sum is reachable
    (a small set of partial sums). Equality with the loop is tested on random compositions.
    """
    if math.gcd(*(int(c) for c in counts)) != 1:
        return False  # smact's neutral_ratios keeps only ratios in lowest terms
    if not use_pauling_test or any(e is None for e in enegs):
        return _neutral_sum_exists(ox_combos, counts)  # every combination passes Pauling here
    levels = sorted(set(enegs))
    for cut in levels + [math.inf]:
        choices = [tuple(o for o in states if (o >= 0 if e < cut else o <= 0))
                   for states, e in zip(ox_combos, enegs)]
        if _neutral_sum_exists(choices, counts):
            return True
    return False


def composition_key(composition: Composition | Structure) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Element symbols sorted by Z and their counts divided by their gcd, as CDVAE builds them.

    The gcd matters: smact's neutral_ratios only accepts ratios in lowest terms.
    """
    comp = composition.composition if isinstance(composition, Structure) else Composition(composition)
    amounts = comp.element_composition.get_el_amt_dict()
    pairs = sorted(((Element(sym).Z, sym, amt) for sym, amt in amounts.items()))
    counts = [int(round(amt)) for _, _, amt in pairs]
    if any(abs(c - amt) > 1e-6 for c, (_, _, amt) in zip(counts, pairs)) or min(counts) <= 0:
        raise ValueError(f"non-integer composition {comp}")
    g = math.gcd(*counts)
    return tuple(sym for _, sym, _ in pairs), tuple(c // g for c in counts)


def composition_validity(composition: Composition | Structure | None, use_pauling_test: bool = True,
                         include_alloys: bool = True) -> bool:
    """SMACT validity of a Structure's or Composition's composition; unreadable compositions are invalid."""
    if composition is None:
        return False
    try:
        symbols, counts = composition_key(composition)
    except Exception:
        return False
    return smact_validity(symbols, counts, use_pauling_test, include_alloys)


# ---- many structures -----------------------------------------------------------------------

def validity_one(structure: Structure | None) -> tuple[bool, bool, bool, str]:
    """``(constructed, struct_valid, comp_valid, reason)`` of one sample."""
    constructed, struct_ok, reason = check_structure(structure)
    comp_ok = composition_validity(structure) if structure is not None else False
    if not comp_ok:
        reason = "; ".join(r for r in (reason, "composition fails SMACT") if r)
    return constructed, struct_ok, comp_ok, reason


def validity_table(structures: Sequence[Structure | None], *, executor=None, progress_bar: bool = True) -> pd.DataFrame:
    """One row per sample: ``constructed``, ``struct_valid``, ``comp_valid``, ``invalid_reason``.

    Cheap (about 0.4 ms per structure): an executor mostly adds pickling; it is accepted for
    uniformity.
    """
    rows = parallel_map(validity_one, structures, executor=executor, desc="validity", progress_bar=progress_bar)
    return pd.DataFrame(rows, columns=["constructed", "struct_valid", "comp_valid", "invalid_reason"])


__all__ = ["MIN_DISTANCE", "MIN_VOLUME", "SMACT_VERSION", "check_structure", "structure_validity",
           "smact_validity", "composition_key", "composition_validity", "validity_one", "validity_table"]

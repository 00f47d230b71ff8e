"""CDVAE's two fingerprints: CrystalNN "ops" (structure) and Magpie (composition).

* Structure: matminer ``CrystalNNFingerprint.from_preset("ops")`` for every site, **averaged
  over sites** (61 numbers).
* Composition: matminer ``ElementProperty.from_preset("magpie", impute_nan=False)`` (132
  numbers), then standardised with CDVAE's fixed means and stds, NaN becoming 0
  (:func:`scale_magpie`). ``impute_nan=False`` matters: matminer ≥ 0.8 imputes missing element
  data by default, whereas the matminer 0.7.3 CDVAE used left NaN (which then became 0).

A fingerprint that cannot be computed is ``None`` and counted, never an exception. Two
deliberate guards, both only reachable by garbage samples: a CrystalNN result with NaN/inf
entries counts as failed (CDVAE would let the NaN poison every distance), and cells denser than
``min_volume_per_atom`` (default 1 Å³/atom; real solids have more than 5) are not fingerprinted,
because CrystalNN's neighbour search grows without bound there (tens of seconds at 0.02 Å³/atom).

CrystalNN's neighbours and order parameters run in NumPy (:mod:`.crystalnn`), about 4x faster
than matminer's loops with the same numbers (``benchmarks/bench_fingerprints.py`` compares them on a
whole split); ``engine="matminer"`` runs matminer's own path. A crystal still costs a few hundredths
of a second, so :func:`compute_fingerprints` takes an ``executor``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Sequence

import numpy as np
from pymatgen.core import Composition, Structure

from ..crystal import MIN_VOLUME_PER_ATOM
from .crystalnn import site_fingerprints
from .cdvae_constants import COMP_SCALER_MEANS, COMP_SCALER_STDS
from ..parallel import parallel_map

STRUCT_FP_DIM = 61
COMP_FP_DIM = 132
ENGINES = ("matlib", "matminer")    # CrystalNN's fingerprint: NumPy, or matminer's own loops


@lru_cache(maxsize=None)
def crystalnn_featurizer():
    """The site featurizer CDVAE uses (built once per process)."""
    from matminer.featurizers.site.fingerprint import CrystalNNFingerprint
    return CrystalNNFingerprint.from_preset("ops")


@lru_cache(maxsize=None)
def magpie_featurizer():
    """The composition featurizer CDVAE uses, without matminer ≥ 0.8's NaN imputation."""
    from matminer.featurizers.composition.composite import ElementProperty
    return ElementProperty.from_preset("magpie", impute_nan=False)


# ---- one structure ---------------------------------------------------------------------------

def _structure_fp(structure: Structure | None, min_volume_per_atom: float | None,
                  engine: str = "matlib") -> tuple[np.ndarray | None, str]:
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    if structure is None or len(structure) == 0:
        return None, "no structure"
    try:
        if not (np.isfinite(structure.lattice.matrix).all() and np.isfinite(structure.frac_coords).all()):
            return None, "non-finite structure"
        vpa = structure.volume / len(structure)
        if min_volume_per_atom is not None and not vpa >= min_volume_per_atom:
            return None, f"cell too dense for CrystalNN ({vpa:.3g} Å³/atom)"
        featurizer = crystalnn_featurizer()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CrystalNN warns about unusual geometries; counted below instead
            if engine == "matminer":
                sites = [featurizer.featurize(structure, i) for i in range(len(structure))]
            else:
                sites = site_fingerprints(featurizer, structure)
        fp = np.mean(np.asarray(sites, dtype=float), axis=0)
    except Exception as err:  # what CDVAE catches too: the crystal then counts as invalid
        return None, f"CrystalNN failed ({type(err).__name__})"
    if fp.shape != (STRUCT_FP_DIM,) or not np.isfinite(fp).all():
        return None, "CrystalNN gave non-finite values"
    return fp, ""


def structure_fingerprint(structure: Structure | None, min_volume_per_atom: float | None = MIN_VOLUME_PER_ATOM,
                          engine: str = "matlib") -> np.ndarray | None:
    """Site-averaged CrystalNN "ops" fingerprint (61 numbers), or None when it cannot be computed."""
    return _structure_fp(structure, min_volume_per_atom, engine)[0]


@lru_cache(maxsize=1 << 15)
def _magpie_of(formula_key: Composition) -> np.ndarray | None:
    # Magpie statistics depend only on the fractional composition, so reduced formulas share a cache
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen warns about elements lacking data: NaN is the point
            raw = np.asarray(magpie_featurizer().featurize(formula_key), dtype=float)
    except Exception:
        return None
    return raw if raw.shape == (COMP_FP_DIM,) else None


def composition_fingerprint(composition: Composition | Structure | None) -> np.ndarray | None:
    """Raw (unscaled) Magpie features of a composition (132 numbers, NaN allowed), or None."""
    if composition is None:
        return None
    try:
        comp = composition.composition if isinstance(composition, Structure) else Composition(composition)
        key = comp.element_composition.reduced_composition
    except Exception:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp = _magpie_of(key)
    return None if fp is None else fp.copy()


def scale_magpie(raw: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """CDVAE's ``CompScaler.transform``: (x - mean) / std with CDVAE's constants, then NaN -> 0."""
    x = np.asarray(raw, dtype=float)
    scaled = (x - COMP_SCALER_MEANS) / COMP_SCALER_STDS
    return np.where(np.isnan(scaled), 0.0, scaled)


# ---- many structures -------------------------------------------------------------------------

def _fingerprint_worker(structure: Structure | None, kind: str, min_volume_per_atom: float | None,
                        engine: str = "matlib"):
    struct_fp, reason = _structure_fp(structure, min_volume_per_atom, engine) if kind in ("both", "struct") else (None, "")
    comp_fp = composition_fingerprint(structure) if kind in ("both", "comp") else None
    return struct_fp, comp_fp, reason


@dataclass
class Fingerprints:
    """Per-structure fingerprints, aligned with the input list (``None`` = failed or not asked for)."""

    struct: list[np.ndarray | None]
    comp: list[np.ndarray | None]                  # raw Magpie; scale with scale_magpie()
    struct_reason: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.struct)

    @property
    def struct_failed(self) -> int:
        return sum(fp is None for fp in self.struct)

    @property
    def comp_failed(self) -> int:
        return sum(fp is None for fp in self.comp)

    def ok(self) -> np.ndarray:
        """Both fingerprints present: what CDVAE's coverage keeps (``filter_fps``)."""
        return np.array([s is not None and c is not None for s, c in zip(self.struct, self.comp)], dtype=bool)

    def select(self, indices: Sequence[int]) -> "Fingerprints":
        return Fingerprints([self.struct[i] for i in indices], [self.comp[i] for i in indices],
                            [self.struct_reason[i] for i in indices] if self.struct_reason else [])


def compute_fingerprints(structures: Sequence[Structure | None], *, kind: str = "both", executor=None,
                         chunksize: int | None = None, progress_bar: bool = True,
                         min_volume_per_atom: float | None = MIN_VOLUME_PER_ATOM,
                         engine: str = "matlib") -> Fingerprints:
    """Fingerprints of every structure, in input order; ``kind`` is "both", "struct" or "comp".

    ``executor``: any ``concurrent.futures.Executor`` (thread, process, Dask, ...) or None (serial).
    ``engine``: "matlib" (:mod:`.crystalnn`, NumPy) or "matminer" (its own loops); the same numbers.
    """
    if kind not in ("both", "struct", "comp"):
        raise ValueError(f"kind must be 'both', 'struct' or 'comp', not {kind!r}")
    worker = partial(_fingerprint_worker, kind=kind, min_volume_per_atom=min_volume_per_atom, engine=engine)
    label = {"both": "fingerprints", "struct": "CrystalNN fingerprints", "comp": "Magpie fingerprints"}[kind]
    rows = parallel_map(worker, structures, executor=executor, chunksize=chunksize, desc=label,
                        progress_bar=progress_bar)
    return Fingerprints([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


__all__ = ["STRUCT_FP_DIM", "COMP_FP_DIM", "ENGINES", "MIN_VOLUME_PER_ATOM", "Fingerprints", "compute_fingerprints",
           "structure_fingerprint", "composition_fingerprint", "scale_magpie", "crystalnn_featurizer",
           "magpie_featurizer"]

"""COV-R / COV-P (and AMSD / AMCD) exactly as CDVAE's ``compute_cov`` computes them.

With d_s and d_c the Euclidean distances between structure fingerprints and between *scaled*
composition fingerprints of generated crystal i and reference (test) crystal j:

* recall distances, per reference j: ``min_i d_s(i, j)`` and ``min_i d_c(i, j)``, **taken
  independently** (the nearest structure and the nearest composition may belong to different
  generated crystals);
* COV-R = share of reference crystals with both recall distances within (≤) the thresholds;
* precision distances, per generated i: ``min_j d_s(i, j)`` and ``min_j d_c(i, j)``;
* COV-P = (number of generated crystals with both precision distances within the thresholds)
  / (number of **all** generated crystals, including those whose fingerprint failed);
* AMSD / AMCD recall and precision: means of those minimum distances (over the crystals that
  have fingerprints).

Generated crystals whose structure or composition fingerprint failed are left out of the
distances but stay in COV-P's denominator; invalid crystals are *not* excluded (CDVAE scores
COV on every generated crystal). Distances are computed in row blocks, so 10k × 10k sets need
only a few hundred MB.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.spatial.distance import cdist

from ..parallel import usable_cpus
from ..registry import DATASETS, DatasetSpec, get_spec
from .cdvae_constants import COV_CUTOFFS
from .fingerprints import Fingerprints, scale_magpie


def resolve_dataset(dataset: str | DatasetSpec) -> DatasetSpec:
    """A dataset name ("mp_20"), a DatasetSpec, or a CDVAE eval key ("mp20": first dataset using it)."""
    if isinstance(dataset, DatasetSpec):
        return dataset
    if dataset in DATASETS:
        return get_spec(dataset)
    for spec in DATASETS.values():
        if spec.eval_key == dataset:
            return spec
    return get_spec(dataset)  # raises the registry's readable error


def cov_cutoffs(dataset: str | DatasetSpec) -> tuple[float, float]:
    """(δ_struct, δ_comp) for a dataset: 0.2/4 for perovskite and carbon, 0.4/10 for mp20."""
    spec = resolve_dataset(dataset)
    return tuple(spec.cov_cutoffs) if spec.cov_cutoffs else COV_CUTOFFS[spec.eval_key]


@dataclass
class CoverageResult:
    metrics: dict[str, float]                     # cov_r, cov_p, amsd_r, amsd_p, amcd_r, amcd_p
    struct_cutoff: float
    comp_cutoff: float
    n_generated: int                              # COV-P denominator (all generated crystals)
    n_generated_fp: int                           # generated crystals with both fingerprints
    n_reference: int                              # reference crystals with both fingerprints
    # per generated crystal (NaN where a fingerprint is missing)
    struct_precision_dist: np.ndarray = field(repr=False, default=None)
    comp_precision_dist: np.ndarray = field(repr=False, default=None)
    # per reference crystal used
    struct_recall_dist: np.ndarray = field(repr=False, default=None)
    comp_recall_dist: np.ndarray = field(repr=False, default=None)

    @property
    def covered(self) -> np.ndarray:
        """Per generated crystal: does it count towards COV-P."""
        return (self.struct_precision_dist <= self.struct_cutoff) & (self.comp_precision_dist <= self.comp_cutoff)


def _stack(fps: Sequence[np.ndarray | None], keep: np.ndarray) -> np.ndarray:
    rows = [fps[i] for i in np.flatnonzero(keep)]
    return np.asarray(rows, dtype=float) if rows else np.zeros((0, 0))


def coverage(generated: Fingerprints, reference: Fingerprints, *, struct_cutoff: float, comp_cutoff: float,
             n_generated: int | None = None, block: int = 512, threads: int | None = None) -> CoverageResult:
    """CDVAE's coverage metrics from fingerprints (raw Magpie; scaled here with CDVAE's constants).

    ``n_generated`` defaults to ``len(generated)``: every generated crystal, fingerprinted or not.
    ``threads``: blocks of ``block`` generated crystals measured side by side (default: the usable CPUs).
    """
    n_total = len(generated) if n_generated is None else int(n_generated)
    g_ok, r_ok = generated.ok(), reference.ok()
    gs, gc = _stack(generated.struct, g_ok), _stack(generated.comp, g_ok)
    rs, rc = _stack(reference.struct, r_ok), _stack(reference.comp, r_ok)
    if len(rs) == 0:
        raise ValueError("no reference crystal has both fingerprints: coverage is undefined")
    s_prec = np.full(len(generated), np.nan)
    c_prec = np.full(len(generated), np.nan)
    s_rec = np.full(len(rs), np.inf)
    c_rec = np.full(len(rs), np.inf)
    metrics: dict[str, float] = {}
    if len(gs):
        gc, rc = scale_magpie(gc), scale_magpie(rc)
        rows = np.flatnonzero(g_ok)

        def minima(start: int):   # one block of generated rows against every reference crystal
            ds, dc = cdist(gs[start:start + block], rs), cdist(gc[start:start + block], rc)
            return start, ds.min(axis=1), dc.min(axis=1), ds.min(axis=0), dc.min(axis=0)

        # cdist releases the GIL: blocks run on threads, no copies; minima are exact in any order
        with ThreadPoolExecutor(threads or usable_cpus()) as pool:
            for start, s_min, c_min, s_ref, c_ref in pool.map(minima, range(0, len(gs), block)):
                s_prec[rows[start:start + block]] = s_min
                c_prec[rows[start:start + block]] = c_min
                s_rec = np.minimum(s_rec, s_ref)
                c_rec = np.minimum(c_rec, c_ref)
        covered_p = (s_prec <= struct_cutoff) & (c_prec <= comp_cutoff)   # NaN compares False
        metrics["cov_r"] = float(np.mean((s_rec <= struct_cutoff) & (c_rec <= comp_cutoff)))
        metrics["cov_p"] = float(covered_p.sum() / n_total) if n_total else float("nan")
        metrics["amsd_r"] = float(np.mean(s_rec))
        metrics["amsd_p"] = float(np.nanmean(s_prec))
        metrics["amcd_r"] = float(np.mean(c_rec))
        metrics["amcd_p"] = float(np.nanmean(c_prec))
    else:  # nothing to measure: nothing is covered, and average distances do not exist
        metrics["cov_r"] = 0.0
        metrics["cov_p"] = 0.0
    return CoverageResult(metrics, float(struct_cutoff), float(comp_cutoff), n_total, int(g_ok.sum()),
                          int(r_ok.sum()), s_prec, c_prec, s_rec, c_rec)


__all__ = ["CoverageResult", "coverage", "cov_cutoffs", "resolve_dataset"]

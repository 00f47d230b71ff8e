"""``evaluate()``: every metric of a generated set in one call, as a tidy :class:`EvaluationReport`.

What is computed depends on what is given:

=====================================  ========================================================
always                                 struct_valid, comp_valid, valid; cov_r, cov_p, amsd_r/p,
                                       amcd_r/p; wdist_density, wdist_num_elems; unique,
                                       comp_unique
``judges={"name": judge}``             wdist_prop:<name>
``targets={"name": (lo, hi)}``         success:<name> (needs the judge of the same name)
``train=[...]``                        novel, comp_novel, unique_novel
``reconstruct_from=[...]``             match_rate, rmse (generated[i] is the prediction of
                                       reconstruct_from[i])
``stability=True`` or a dict           chgnet_ok, chgnet_converged, chgnet_e_initial,
                                       chgnet_e_relaxed, chgnet_e_drop, chgnet_rmsd,
                                       chgnet_match_rms
... and a reference hull               e_hull_median; with ``train``: stable_0.1, stable_0,
(``hull="auto"``: the dataset's)       sun_0.1, sun_0 (S.U.N., MatterGen's definition)
=====================================  ========================================================

Definitions follow CDVAE's ``compute_metrics.py`` (see each module). "valid" is CDVAE's
``Crystal.valid``: composition valid AND structure valid AND the CrystalNN fingerprint could be
computed. Uniqueness and novelty are shares of the *valid* samples; validity, COV-P and success
are shares of *all* samples; COV-R is a share of the reference set. All shares are fractions.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

from pymatgen.core import Structure

from ..registry import DatasetSpec
from . import steps
from .coverage import cov_cutoffs, resolve_dataset
from .properties import Judge
from .reference_set import ReferenceSet, prepare_reference
from .report import EvaluationReport, TableBuilder
from .stability import chgnet_missing
from .sun import resolve_hull


def _stability(out, per, structures, valid, stability, hull, dataset: str, seed: int, pool: dict):
    """The CHGNet stability step and, on a hull, S.U.N.: (why stability was skipped, why S.U.N. was)."""
    if not stability:
        return None, None
    missing = chgnet_missing()
    if missing:   # the other metrics stand; the stability ones are absent, and the report says why
        warnings.warn(f"stability metrics skipped: {missing}", stacklevel=3)
        return missing, None
    hull, hull_skipped = resolve_hull(hull, dataset)
    steps.add_stability(out, per, structures, valid, stability, seed, hull=hull, **pool)
    return None, hull_skipped


def evaluate(generated: Sequence[Structure | None] | Any, reference: Any, *, dataset: str | DatasetSpec,
             train: Sequence[Structure] | Any | None = None,
             judges: Mapping[str, Judge] | Sequence[Judge] | Judge | None = None,
             targets: Mapping[str, tuple[float | None, float | None]] | None = None,
             reconstruct_from: Sequence[Structure] | None = None, executor=None,
             stability: bool | Mapping[str, Any] = False, hull: Any = "auto", method: str = "",
             n_property_samples: int = 1000, seed: int = 0, progress_bar: bool = True) -> EvaluationReport:
    """Score generated crystals against a reference (test) set; see the module docstring.

    generated: Structures (``None`` for samples that could not be built), a CrystalBatch, or
        CDVAE-style dicts of arrays. Garbage is counted as invalid, never an error.
    reference: the test set, as Structures, a ``load_split`` dataset or a :class:`ReferenceSet`.
    dataset: registry name ("perov_5", "carbon_24", "mp_20", "mpts_52") or CDVAE key ("mp20", ...):
        picks the COV thresholds.
    train: training structures, for novelty.
    judges: ``{name: judge}`` with ``judge(list[Structure]) -> floats``; applied to both sets.
    targets: ``{name: (lo, hi)}`` property windows for the success rate (None = open end).
    reconstruct_from: the true structures the generated ones reconstruct (same length, paired).
    executor: any ``concurrent.futures.Executor`` for the slow per-structure steps, or None (serial).
    stability: True, or a dict of options for :func:`relax_structures` (``steps``, ``fmax``,
        ``max_structures`` (default 50), ``volume_factor``, ``device``...): CHGNet relaxation of
        a seeded random subset of the valid samples.
    hull: with ``stability``, a ``matlib.oracle`` reference hull for E_hull and S.U.N. of the relaxed
        crystals; "auto": the dataset's cached one (``oracle.labels.dataset_hull``), skipped with a
        note in ``meta`` when it has none; None: no hull.
    n_property_samples: at most this many valid samples enter the property distances (CDVAE: 1000).
    seed: seeds every random subset (property sample, stability subset).
    """
    lap = steps.Laps()
    spec = resolve_dataset(dataset)
    cutoffs = cov_cutoffs(spec)
    judges = steps.named_judges(judges)
    targets = dict(targets or {})
    structures = steps.checked_structures(generated, judges, targets, reconstruct_from)
    n = len(structures)
    ref = prepare_reference(reference, executor=executor, progress_bar=progress_bar)
    lap("reference_fingerprints")
    pool = {"executor": executor, "progress_bar": progress_bar}

    out = TableBuilder(method, spec.name)
    per, fps, valid = steps.add_validity(out, steps.per_sample_frame(structures), structures, lap=lap, **pool)
    steps.add_coverage(out, per, fps, ref, cutoffs, n, lap)
    steps.add_properties(out, per, structures, valid, ref, judges, targets, n_property_samples, seed)
    lap("properties")
    steps.add_success(out, per, valid, targets)
    steps.add_uniqueness_novelty(out, per, structures, valid, train, **pool)
    lap("uniqueness_novelty")
    if reconstruct_from is not None:
        steps.add_reconstruction(out, per, structures, reconstruct_from, valid, **pool)
        lap("reconstruction")
    stability_skipped, hull_skipped = _stability(out, per, structures, valid, stability, hull, spec.name, seed, pool)
    if stability and not stability_skipped:
        lap("stability")
    per.index.name = "sample"
    meta = steps.run_meta(method=method, spec=spec, n=n, n_valid=int(valid.sum()), ref=ref, train=train,
                          cutoffs=cutoffs, n_property_samples=n_property_samples, seed=seed, executor=executor,
                          timings=lap.timings, stability_skipped=stability_skipped)
    if hull_skipped:
        meta["sun_skipped"] = hull_skipped
    return EvaluationReport(out.frame(), per, meta)


__all__ = ["evaluate", "prepare_reference", "ReferenceSet"]

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
=====================================  ========================================================

Definitions follow CDVAE's ``compute_metrics.py`` (see each module). "valid" is CDVAE's
``Crystal.valid``: composition valid AND structure valid AND the CrystalNN fingerprint could be
computed. Uniqueness and novelty are shares of the *valid* samples; validity, COV-P and success
are shares of *all* samples; COV-R is a share of the reference set. All shares are fractions.
"""
from __future__ import annotations

import functools
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from ..registry import DatasetSpec
from . import matching
from .coverage import coverage, cov_cutoffs, resolve_dataset
from .fingerprints import MIN_VOLUME_PER_ATOM, Fingerprints, compute_fingerprints
from .inputs import as_structures
from .properties import Judge, density, num_elements, run_judge, sample_valid, wasserstein
from .report import EvaluationReport, TableBuilder
from .stability import chgnet_missing, relax_structures, stability_summary
from .success import success_flags
from .validity import MIN_DISTANCE, MIN_VOLUME, SMACT_VERSION, validity_table

FRACTION = "fraction"


@dataclass
class ReferenceSet:
    """Reference (test) structures with their fingerprints, computed once and reusable.

    Fingerprinting 9,000 MP-20 test crystals takes ~22 CPU-minutes: build this once with
    :func:`prepare_reference` (or ``reference_cache.split_reference``, cached on disk) and pass it
    to every ``evaluate`` call. Judge values are cached
    per judge object.
    """

    structures: list[Structure]
    fingerprints: Fingerprints
    judged: dict[int, tuple[Judge, np.ndarray]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.structures)

    @functools.cached_property
    def densities(self) -> np.ndarray:
        # every evaluate() call compares with these: computed once per reference set
        return np.array([density(s) for s in self.structures])

    @functools.cached_property
    def element_counts(self) -> np.ndarray:
        return np.array([num_elements(s) for s in self.structures])

    def judge(self, judge: Judge) -> np.ndarray:
        # keyed by identity; the judge is kept alive with its values so its id cannot be reused
        cached = self.judged.get(id(judge))
        if cached is None or cached[0] is not judge:
            cached = self.judged[id(judge)] = (judge, run_judge(judge, self.structures))
        return cached[1]


def _structures_of(data: Any) -> list[Structure]:
    # a CrystalDataset (load_split) or a plain list
    return list(data.structures) if hasattr(data, "structures") else list(data)


def prepare_reference(reference: Any, *, executor=None, progress_bar: bool = True) -> ReferenceSet:
    """Fingerprint a reference set (a list of Structures or a ``load_split`` dataset)."""
    if isinstance(reference, ReferenceSet):
        return reference
    structures = [s for s in _structures_of(reference) if s is not None]
    if not structures:
        raise ValueError("the reference set is empty")
    fps = compute_fingerprints(structures, executor=executor, progress_bar=progress_bar)
    return ReferenceSet(structures, fps)


def _judges(judges: Mapping[str, Judge] | Sequence[Judge] | Judge | None) -> dict[str, Judge]:
    if judges is None:
        return {}
    if callable(judges):
        judges = [judges]
    if isinstance(judges, Mapping):
        return dict(judges)
    return {getattr(j, "__name__", f"judge{i}"): j for i, j in enumerate(judges)}


def _mean(flags) -> float:
    return float(np.mean(flags)) if len(flags) else None


def evaluate(generated: Sequence[Structure | None] | Any, reference: Any, *, dataset: str | DatasetSpec,
             train: Sequence[Structure] | Any | None = None,
             judges: Mapping[str, Judge] | Sequence[Judge] | Judge | None = None,
             targets: Mapping[str, tuple[float | None, float | None]] | None = None,
             reconstruct_from: Sequence[Structure] | None = None, executor=None,
             stability: bool | Mapping[str, Any] = False, method: str = "", n_property_samples: int = 1000,
             seed: int = 0, progress_bar: bool = True) -> EvaluationReport:
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
    n_property_samples: at most this many valid samples enter the property distances (CDVAE: 1000).
    seed: seeds every random subset (property sample, stability subset).
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    spec = resolve_dataset(dataset)
    struct_cut, comp_cut = cov_cutoffs(spec)
    judges = _judges(judges)
    targets = dict(targets or {})
    missing = sorted(set(targets) - set(judges))
    if missing:
        raise ValueError(f"targets {missing} have no judge of the same name; judges: {sorted(judges)}")
    structures = as_structures(generated)
    n = len(structures)
    if n == 0:
        raise ValueError("nothing to evaluate: no generated samples")
    if reconstruct_from is not None and len(reconstruct_from) != n:
        raise ValueError(f"reconstruct_from has {len(reconstruct_from)} structures for {n} predictions")
    ref = prepare_reference(reference, executor=executor, progress_bar=progress_bar)
    lap("reference_fingerprints")

    out = TableBuilder(method, spec.name)
    per = pd.DataFrame({"formula": [matching.reduced_formula(s) if s is not None and len(s) else "" for s in structures],
                        "n_atoms": [len(s) if s is not None else 0 for s in structures]})

    # ---- validity -------------------------------------------------------------------------
    # serial on purpose: ~0.4 ms per structure, less than sending it to a worker costs
    flags = validity_table(structures, progress_bar=progress_bar)
    lap("validity")
    fps = compute_fingerprints(structures, executor=executor, progress_bar=progress_bar)
    lap("fingerprints")
    fp_ok = np.array([fp is not None for fp in fps.struct])
    valid = flags["struct_valid"].to_numpy() & flags["comp_valid"].to_numpy() & fp_ok
    per = pd.concat([per, flags], axis=1)
    per["fingerprint_ok"] = fp_ok
    per["valid"] = valid
    per["fingerprint_note"] = fps.struct_reason
    n_valid = int(valid.sum())
    out.add("struct_valid", per["struct_valid"].mean(), FRACTION, n,
            f"min pair distance >= {MIN_DISTANCE} A and volume >= {MIN_VOLUME} A^3")
    out.add("comp_valid", per["comp_valid"].mean(), FRACTION, n, f"SMACT charge neutrality + Pauling test; smact {SMACT_VERSION}")
    out.add("valid", valid.mean(), FRACTION, n, f"struct and comp valid and CrystalNN fingerprint computable ({n - int(fp_ok.sum())} failed)")

    # ---- coverage -------------------------------------------------------------------------
    cov = coverage(fps, ref.fingerprints, struct_cutoff=struct_cut, comp_cutoff=comp_cut, n_generated=n)
    lap("coverage")
    note = f"delta_struct={struct_cut}, delta_comp={comp_cut}"
    out.add("cov_r", cov.metrics["cov_r"], FRACTION, cov.n_reference, note)
    out.add("cov_p", cov.metrics["cov_p"], FRACTION, n, f"{note}; {n - cov.n_generated_fp} of {n} without fingerprints count as not covered")
    for key in ("amsd_r", "amsd_p", "amcd_r", "amcd_p"):
        if key in cov.metrics:
            unit = "CrystalNN fingerprint distance" if key.startswith("amsd") else "scaled Magpie distance"
            out.add(key, cov.metrics[key], unit, cov.n_reference if key.endswith("_r") else cov.n_generated_fp)
    per["cov_struct_dist"] = cov.struct_precision_dist
    per["cov_comp_dist"] = cov.comp_precision_dist
    per["cov_covered"] = cov.covered

    # ---- property distributions ------------------------------------------------------------
    sample = sample_valid(valid, n_property_samples, seed)
    per["in_property_sample"] = np.isin(np.arange(n), sample)
    per["density"] = [density(s) if ok else np.nan for s, ok in zip(structures, valid)]
    per["num_elems"] = [num_elements(s) if ok else np.nan for s, ok in zip(structures, valid)]
    if len(sample):
        note = f"{len(sample)} valid samples (at most {n_property_samples}, seed {seed}) vs {len(ref)} reference"
        out.add("wdist_density", wasserstein(per["density"].to_numpy()[sample], ref.densities)[0], "g/cm^3", len(sample), note)
        for name, judge in judges.items():
            wanted = np.flatnonzero(valid) if name in targets else sample
            values = np.full(n, np.nan)
            values[wanted] = run_judge(judge, [structures[i] for i in wanted])
            per[f"prop:{name}"] = values
            dist, n_gen, n_ref = wasserstein(values[sample], ref.judge(judge))
            dropped = (len(sample) - n_gen) + (len(ref) - n_ref)
            out.add(f"wdist_prop:{name}", dist if n_gen and n_ref else None, getattr(judge, "unit", ""), n_gen,
                    note + (f"; {dropped} NaN judge values dropped" if dropped else ""))
        out.add("wdist_num_elems", wasserstein(per["num_elems"].to_numpy()[sample], ref.element_counts)[0], "elements",
                len(sample), note)
    else:
        for name, judge in judges.items():
            if name in targets:
                per[f"prop:{name}"] = np.nan
    lap("properties")

    # ---- success -----------------------------------------------------------------------------
    for name, (lo, hi) in targets.items():
        hit = success_flags(per[f"prop:{name}"].to_numpy(), valid, lo, hi)
        per[f"success:{name}"] = hit
        out.add(f"success:{name}", hit.mean(), FRACTION, n, f"valid and {name} in [{lo}, {hi}], over all samples")

    # ---- uniqueness / novelty ------------------------------------------------------------------
    valid_idx = np.flatnonzero(valid)
    valid_structs = [structures[i] for i in valid_idx]
    matcher_note = matching.matcher_description()
    for column in ("unique", "novel", "comp_unique", "comp_novel"):
        per[column] = pd.array([pd.NA] * n, dtype="boolean")
    if n_valid:
        uniq = matching.unique_flags(valid_structs, executor=executor, progress_bar=progress_bar)
        comp_uniq = matching.formula_unique_flags(valid_structs)
        per.loc[valid_idx, "unique"] = uniq
        per.loc[valid_idx, "comp_unique"] = comp_uniq
        out.add("unique", _mean(uniq), FRACTION, n_valid, f"share of valid samples; {matcher_note}")
        out.add("comp_unique", _mean(comp_uniq), FRACTION, n_valid, "share of valid samples with a reduced formula not seen earlier")
        if train is not None:
            train_structs = [t for t in _structures_of(train) if t is not None]
            nov = matching.novel_flags(valid_structs, train_structs, executor=executor, progress_bar=progress_bar)
            comp_nov = matching.formula_novel_flags(valid_structs, train_structs)
            per.loc[valid_idx, "novel"] = nov
            per.loc[valid_idx, "comp_novel"] = comp_nov
            note = f"vs {len(train_structs)} training structures"
            out.add("novel", _mean(nov), FRACTION, n_valid, f"share of valid samples matching no training structure; {note}")
            out.add("comp_novel", _mean(comp_nov), FRACTION, n_valid, f"share of valid samples whose reduced formula is not in training; {note}")
            out.add("unique_novel", _mean(uniq & nov), FRACTION, n_valid, "share of valid samples both unique and novel")
    lap("uniqueness_novelty")

    # ---- reconstruction ------------------------------------------------------------------------
    if reconstruct_from is not None:
        rec = matching.reconstruction(structures, _structures_of(reconstruct_from), valid, executor=executor,
                                      progress_bar=progress_bar)
        per["match"] = np.isfinite(rec.rms)
        per["rms"] = rec.rms
        out.add("match_rate", rec.match_rate, FRACTION, rec.n, f"invalid predictions count as non-matches; {matcher_note}")
        out.add("rmse", rec.rmse, "(V/N)^(1/3)", rec.n_matched, "mean RMS displacement of matched pairs (pymatgen get_rms_dist)")
        lap("reconstruction")

    # ---- CHGNet stability proxy -------------------------------------------------------------------
    stability_skipped = chgnet_missing() if stability else None
    if stability_skipped:   # the other metrics stand; the stability ones are absent, and the report says why
        warnings.warn(f"stability metrics skipped: {stability_skipped}", stacklevel=2)
    elif stability:
        options = {"max_structures": 50, "seed": seed, **(dict(stability) if isinstance(stability, Mapping) else {})}
        relaxed = relax_structures(valid_structs, executor=executor, progress_bar=progress_bar, **options)
        if len(relaxed):
            relaxed["index"] = valid_idx[relaxed["index"].to_numpy()]
            for column in ("e_initial", "e_relaxed", "rmsd", "ok"):
                per[f"chgnet_{column}"] = np.nan
                per.loc[relaxed["index"].to_numpy(), f"chgnet_{column}"] = relaxed[column].to_numpy(dtype=float)
        units = {"chgnet_ok": FRACTION, "chgnet_converged": FRACTION, "chgnet_e_initial": "eV/atom",
                 "chgnet_e_relaxed": "eV/atom", "chgnet_e_drop": "eV/atom", "chgnet_rmsd": "A",
                 "chgnet_match_rms": "(V/N)^(1/3)"}
        settings = {k: v for k, v in options.items() if k != "device"}
        for metric, (value, count) in stability_summary(relaxed).items():
            note = (f"share of {count} relaxed valid samples" if units[metric] == FRACTION
                    else f"mean over {count} relaxations that did not explode")
            if metric == "chgnet_rmsd":
                note += "; per-site displacement, generated -> relaxed"
            out.add(metric, value, units[metric], count, f"{note}; CHGNet {settings}")
        lap("stability")

    per.index.name = "sample"
    meta = {
        "method": method, "dataset": spec.name, "eval_key": spec.eval_key,
        "n_generated": n, "n_valid": n_valid, "n_reference": len(ref),
        "n_train": None if train is None else len(_structures_of(train)),
        "cov_cutoffs": {"struct": struct_cut, "comp": comp_cut},
        "matcher": matcher_note, "smact_version": SMACT_VERSION,
        "n_property_samples": n_property_samples, "seed": seed,
        "fingerprint_min_volume_per_atom": MIN_VOLUME_PER_ATOM,
        "executor": type(executor).__name__ if executor is not None else "serial",
        "versions": _versions(), "timings_s": timings,
        "fractions": "all shares are fractions in [0, 1]",
        **({"stability_skipped": stability_skipped} if stability_skipped else {}),
    }
    return EvaluationReport(out.frame(), per, meta)


def _versions() -> dict[str, str]:
    from ..results import versions
    out = versions()
    out["smact"] = SMACT_VERSION
    return out


__all__ = ["evaluate", "prepare_reference", "ReferenceSet"]

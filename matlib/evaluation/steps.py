"""The named steps of ``evaluate()``, in the order it runs them: each adds its metrics to the report
table (``out``) and its columns to the per-sample frame (``per``)."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from . import matching
from .coverage import coverage
from .fingerprints import MIN_VOLUME_PER_ATOM, compute_fingerprints
from .inputs import as_structures
from .properties import Judge, density, num_elements, run_judge, sample_valid, wasserstein
from .reference_set import ReferenceSet, _structures_of
from .report import FRACTION, TableBuilder
from .stability import relax_structures, stability_summary
from .sun import add_sun
from .success import success_flags
from .validity import MIN_DISTANCE, MIN_VOLUME, SMACT_VERSION, validity_table



class Laps:
    """Seconds spent in each named step since the previous one (``timings``)."""

    def __init__(self):
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._clock, 3)
        self._clock = now


def named_judges(judges: Mapping[str, Judge] | Sequence[Judge] | Judge | None) -> dict[str, Judge]:
    if judges is None:
        return {}
    if callable(judges):
        judges = [judges]
    if isinstance(judges, Mapping):
        return dict(judges)
    return {getattr(j, "__name__", f"judge{i}"): j for i, j in enumerate(judges)}


def _mean(flags) -> float:
    return float(np.mean(flags)) if len(flags) else None


def checked_structures(generated: Any, judges: dict, targets: dict, reconstruct_from) -> list[Structure | None]:
    """The generated samples as Structures, after checking the arguments agree with each other."""
    missing = sorted(set(targets) - set(judges))
    if missing:
        raise ValueError(f"targets {missing} have no judge of the same name; judges: {sorted(judges)}")
    structures = as_structures(generated)
    n = len(structures)
    if n == 0:
        raise ValueError("nothing to evaluate: no generated samples")
    if reconstruct_from is not None and len(reconstruct_from) != n:
        raise ValueError(f"reconstruct_from has {len(reconstruct_from)} structures for {n} predictions")
    return structures


def per_sample_frame(structures: list[Structure | None]) -> pd.DataFrame:
    return pd.DataFrame({"formula": [matching.reduced_formula(s) if s is not None and len(s) else ""
                                     for s in structures],
                         "n_atoms": [len(s) if s is not None else 0 for s in structures]})


def add_validity(out: TableBuilder, per: pd.DataFrame, structures, *, executor, progress_bar: bool, lap: Laps):
    """struct_valid, comp_valid and valid; returns (per with the validity columns, fingerprints, valid)."""
    # validity stays in this process (~0.4 ms per structure, less than sending it to a worker costs);
    # with a pool it runs on a thread beside the workers' fingerprints, so its lap joins theirs
    if executor is None:
        flags = validity_table(structures, progress_bar=progress_bar)
        lap("validity")
        fps = compute_fingerprints(structures, progress_bar=progress_bar)
    else:
        with ThreadPoolExecutor(1) as beside:
            pending = beside.submit(validity_table, structures, progress_bar=False)
            fps = compute_fingerprints(structures, executor=executor, progress_bar=progress_bar)
            flags = pending.result()
    lap("fingerprints")
    n = len(structures)
    fp_ok = np.array([fp is not None for fp in fps.struct])
    valid = flags["struct_valid"].to_numpy() & flags["comp_valid"].to_numpy() & fp_ok
    per = pd.concat([per, flags], axis=1)
    per["fingerprint_ok"] = fp_ok
    per["valid"] = valid
    per["fingerprint_note"] = fps.struct_reason
    out.add("struct_valid", per["struct_valid"].mean(), FRACTION, n,
            f"min pair distance >= {MIN_DISTANCE} A and volume >= {MIN_VOLUME} A^3")
    out.add("comp_valid", per["comp_valid"].mean(), FRACTION, n, f"SMACT charge neutrality + Pauling test; smact {SMACT_VERSION}")
    out.add("valid", valid.mean(), FRACTION, n, f"struct and comp valid and CrystalNN fingerprint computable ({n - int(fp_ok.sum())} failed)")
    return per, fps, valid


def add_coverage(out: TableBuilder, per: pd.DataFrame, fps, ref: ReferenceSet, cutoffs: tuple[float, float],
                 n: int, lap: Laps) -> None:
    struct_cut, comp_cut = cutoffs
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


def add_properties(out: TableBuilder, per: pd.DataFrame, structures, valid: np.ndarray, ref: ReferenceSet,
                   judges: dict[str, Judge], targets: dict, n_property_samples: int, seed: int) -> None:
    """Wasserstein distances of density, element count and each judge's property to the reference."""
    n = len(structures)
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


def add_success(out: TableBuilder, per: pd.DataFrame, valid: np.ndarray, targets: dict) -> None:
    for name, (lo, hi) in targets.items():
        hit = success_flags(per[f"prop:{name}"].to_numpy(), valid, lo, hi)
        per[f"success:{name}"] = hit
        out.add(f"success:{name}", hit.mean(), FRACTION, len(per), f"valid and {name} in [{lo}, {hi}], over all samples")


def add_uniqueness_novelty(out: TableBuilder, per: pd.DataFrame, structures, valid: np.ndarray, train, *,
                           executor, progress_bar: bool) -> None:
    n, valid_idx = len(structures), np.flatnonzero(valid)
    valid_structs = [structures[i] for i in valid_idx]
    n_valid = len(valid_idx)
    matcher_note = matching.matcher_description()
    for column in ("unique", "novel", "comp_unique", "comp_novel"):
        per[column] = pd.array([pd.NA] * n, dtype="boolean")
    if not n_valid:
        return
    uniq = matching.unique_flags(valid_structs, executor=executor, progress_bar=progress_bar)
    comp_uniq = matching.formula_unique_flags(valid_structs)
    per.loc[valid_idx, "unique"] = uniq
    per.loc[valid_idx, "comp_unique"] = comp_uniq
    out.add("unique", _mean(uniq), FRACTION, n_valid, f"share of valid samples; {matcher_note}")
    out.add("comp_unique", _mean(comp_uniq), FRACTION, n_valid, "share of valid samples with a reduced formula not seen earlier")
    if train is None:
        return
    train_structs = [t for t in _structures_of(train) if t is not None]
    nov = matching.novel_flags(valid_structs, train_structs, executor=executor, progress_bar=progress_bar)
    comp_nov = matching.formula_novel_flags(valid_structs, train_structs)
    per.loc[valid_idx, "novel"] = nov
    per.loc[valid_idx, "comp_novel"] = comp_nov
    note = f"vs {len(train_structs)} training structures"
    out.add("novel", _mean(nov), FRACTION, n_valid, f"share of valid samples matching no training structure; {note}")
    out.add("comp_novel", _mean(comp_nov), FRACTION, n_valid, f"share of valid samples whose reduced formula is not in training; {note}")
    out.add("unique_novel", _mean(uniq & nov), FRACTION, n_valid, "share of valid samples both unique and novel")


def add_reconstruction(out: TableBuilder, per: pd.DataFrame, structures, reconstruct_from, valid: np.ndarray, *,
                       executor, progress_bar: bool) -> None:
    rec = matching.reconstruction(structures, _structures_of(reconstruct_from), valid, executor=executor,
                                  progress_bar=progress_bar)
    per["match"] = np.isfinite(rec.rms)
    per["rms"] = rec.rms
    out.add("match_rate", rec.match_rate, FRACTION, rec.n,
            f"invalid predictions count as non-matches; {matching.matcher_description()}")
    out.add("rmse", rec.rmse, "(V/N)^(1/3)", rec.n_matched, "mean RMS displacement of matched pairs (pymatgen get_rms_dist)")


STABILITY_UNITS = {"chgnet_ok": FRACTION, "chgnet_converged": FRACTION, "chgnet_e_initial": "eV/atom",
                   "chgnet_e_relaxed": "eV/atom", "chgnet_e_drop": "eV/atom", "chgnet_rmsd": "A",
                   "chgnet_match_rms": "(V/N)^(1/3)"}


def add_stability(out: TableBuilder, per: pd.DataFrame, structures, valid: np.ndarray,
                  stability: bool | Mapping[str, Any], seed: int, *, executor, progress_bar: bool,
                  hull=None) -> None:
    """CHGNet relaxation of a seeded subset of the valid samples (the caller checked CHGNet is there);
    with a reference ``hull`` (``matlib.oracle``), E_hull and S.U.N. of the same relaxed crystals."""
    valid_idx = np.flatnonzero(valid)
    valid_structs = [structures[i] for i in valid_idx]
    options = {"max_structures": 50, "seed": seed, **(dict(stability) if isinstance(stability, Mapping) else {})}
    relaxed = relax_structures(valid_structs, executor=executor, progress_bar=progress_bar,
                               keep_final=hull is not None, **options)
    if len(relaxed):
        relaxed["index"] = valid_idx[relaxed["index"].to_numpy()]
        for column in ("e_initial", "e_relaxed", "rmsd", "ok"):
            per[f"chgnet_{column}"] = np.nan
            per.loc[relaxed["index"].to_numpy(), f"chgnet_{column}"] = relaxed[column].to_numpy(dtype=float)
    settings = {k: v for k, v in options.items() if k != "device"}
    for metric, (value, count) in stability_summary(relaxed).items():
        note = (f"share of {count} relaxed valid samples" if STABILITY_UNITS[metric] == FRACTION
                else f"mean over {count} relaxations that did not explode")
        if metric == "chgnet_rmsd":
            note += "; per-site displacement, generated -> relaxed"
        out.add(metric, value, STABILITY_UNITS[metric], count, f"{note}; CHGNet {settings}")
    if hull is not None and len(relaxed):
        add_sun(out, per, relaxed, float(np.mean(valid)) if len(valid) else 0.0, hull)


def run_meta(*, method: str, spec, n: int, n_valid: int, ref: ReferenceSet, train, cutoffs: tuple[float, float],
             n_property_samples: int, seed: int, executor, timings: dict, stability_skipped: str | None) -> dict:
    """What the report was computed from and with (its ``meta``)."""
    struct_cut, comp_cut = cutoffs
    return {
        "method": method, "dataset": spec.name, "eval_key": spec.eval_key,
        "n_generated": n, "n_valid": n_valid, "n_reference": len(ref),
        "n_train": None if train is None else len(_structures_of(train)),
        "cov_cutoffs": {"struct": struct_cut, "comp": comp_cut},
        "matcher": matching.matcher_description(), "smact_version": SMACT_VERSION,
        "n_property_samples": n_property_samples, "seed": seed,
        "fingerprint_min_volume_per_atom": MIN_VOLUME_PER_ATOM,
        "executor": type(executor).__name__ if executor is not None else "serial",
        "versions": _versions(), "timings_s": timings,
        "fractions": "all shares are fractions in [0, 1]",
        **({"stability_skipped": stability_skipped} if stability_skipped else {}),
    }


def _versions() -> dict[str, str]:
    from ..results import versions
    out = versions()
    out["smact"] = SMACT_VERSION
    return out

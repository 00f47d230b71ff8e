"""How far to trust the oracle: its hull against the dataset's, its formation energies, its K and M.

Computed from the cached labels (``matlib.oracle.labels``) on a CPU in about a minute:

    python -m matlib.oracle.validation --out docs/results/runs/oracle_validation.json

1. ``hull_validation``: a hull from the ``val`` labels (plus elemental prototypes) scores the held-out
   ``test`` crystals; their E_hull is compared with the dataset's own ``e_above_hull`` (Materials
   Project's, DFT with MP2020 corrections, from a hull of every MP entry).
2. ``formation_validation``: elemental references fitted on ``val``; formation energies of ``test``.
3. ``label_summary``: distributions of bulk modulus and magnetic density, and the share of crystals
   in MatterGen's windows.
4. ``literature_checks``: a few crystals of the data against measured values.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from ..datasets import load_table
from ..jsonsafe import jsonable
from .eos import bulk_moduli
from .formation import formation_energy
from .hull import e_above_hull
from .labels import LabelsError, elemental_energies, load_bulk_moduli, load_labels
from .references import dataset_hull, fitted_references

# Measured values for crystals of MP-20 (material_id: formula, value), with their sources:
# bulk modulus, GPa: C. Kittel, Introduction to Solid State Physics, 8th ed. (2005), ch. 3, Table 3
# (elements, at room temperature) and Table 7 (alkali halides, at 4 K).
LITERATURE_BULK_MODULUS = {"mp-149": ("Si", 98.8), "mp-91": ("W", 323.2), "mp-54": ("Co", 191.4),
                           "mp-22862": ("NaCl", 24.0), "mp-23193": ("KCl", 17.4)}
# magnetic moment per atom, μB, at 0 K: Kittel, ch. 11, Table 2 (ferromagnets); M = moment × atoms / volume
LITERATURE_MOMENT = {"mp-13": ("Fe", 2.22), "mp-54": ("Co", 1.715)}
MATTERGEN_WINDOWS = {"bulk_modulus_gpa": 400.0, "magmom_per_volume": 0.2}   # K = 400 GPa; M > 0.2 Å⁻³
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _labelled(dataset: str, split: str, root: Path | None) -> pd.DataFrame:
    labels = load_labels(dataset, split, root)
    table = load_table(dataset, split).drop(columns=["cif", "formula"], errors="ignore")   # ours: the parsed cell
    table["material_id"] = table["material_id"].astype(str)
    return labels.merge(table, on="material_id", how="left", validate="one_to_one")


def _errors(pred: np.ndarray, true: np.ndarray) -> dict:
    keep = np.isfinite(pred) & np.isfinite(true)
    p, t = pred[keep], true[keep]
    return {"n": int(keep.sum()), "n_missing": int((~keep).sum()), "mae": float(np.mean(np.abs(p - t))),
            "median_abs_error": float(np.median(np.abs(p - t))), "mean_signed_error": float(np.mean(p - t)),
            "pearson_r": float(np.corrcoef(p, t)[0, 1]),
            "spearman_r": float(pd.Series(p).rank().corr(pd.Series(t).rank()))}


def hull_validation(dataset: str = "mp_20", root: Path | None = None, elemental: str = "fitted") -> dict:
    """A ``val`` hull scores ``test``; against the dataset's ``e_above_hull`` where it has one."""
    val, test = _labelled(dataset, "val", root), _labelled(dataset, "test", root)
    prototypes = elemental_energies(root)
    hull = dataset_hull(dataset, ("val",), root, elemental=elemental)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # missing E_hull is counted in n_missing
        proxy = e_above_hull(hull, test["formula"].tolist(), test["e_relaxed"].to_numpy())
    truth = test["e_above_hull"].to_numpy(dtype=float) if "e_above_hull" in test else np.full(len(test), np.nan)
    out = {"dataset": dataset, "hull_from": "val", "scored": "test", "elemental": elemental,
           "reference_entries": len(hull)}
    out.update(_errors(proxy, truth) if np.isfinite(truth).any() else {"n": int(np.isfinite(proxy).sum())})
    finite = proxy[np.isfinite(proxy)]
    out.update({"dataset_e_above_hull_max": float(np.nanmax(truth)) if np.isfinite(truth).any() else None,
                "proxy_stable_at_0.1": float(np.mean(finite <= 0.1)),
                "proxy_stable_at_0": float(np.mean(finite <= 1e-6)),
                "proxy_below_hull_0.1": float(np.mean(finite < -0.1)),
                "proxy_quantiles": {f"{q:g}": float(np.quantile(finite, q)) for q in QUANTILES}})
    # what a small hull lacks: systems where test crystals meet no val compound of their own elements
    val_systems = {frozenset(Composition(f).chemical_system.split("-")) for f in val["formula"]}
    alone = [not any(system <= frozenset(Composition(f).chemical_system.split("-")) and len(system) > 1
                     for system in val_systems) for f in test["formula"]]
    out["test_without_any_val_compound_in_their_system"] = float(np.mean(alone))
    # prototypes against the dataset's own elemental crystals, where both exist
    both = pd.concat([val, test])
    single = both[[len(Composition(f).elements) == 1 for f in both["formula"]]]
    best = single.groupby(single["formula"].map(lambda f: Composition(f).elements[0].symbol))["e_relaxed"].min()
    gap = {el: float(prototypes[el] - e) for el, e in best.items() if el in prototypes}
    out["elements_with_a_dataset_crystal"] = len(gap)
    out["prototype_minus_dataset_elemental_median"] = float(np.median(list(gap.values()))) if gap else None
    out["prototype_minus_dataset_elemental_max"] = max(gap.items(), key=lambda kv: kv[1]) if gap else None
    return out


def formation_validation(dataset: str = "mp_20", root: Path | None = None) -> dict:
    test = _labelled(dataset, "test", root)
    refs = fitted_references(dataset, root)
    pred = formation_energy(test["e_relaxed"], test["formula"].tolist(), refs)
    return {"dataset": dataset, "fitted_on": "val", "scored": "test", "elements": len(refs),
            "fit_residual_mae": refs.residual_mae,
            **_errors(pred, test["formation_energy_per_atom"].to_numpy(dtype=float))}


def _distribution(column: pd.Series) -> dict:
    """Quantiles of a label column and the share at or above MatterGen's target for it."""
    values, window = column.dropna().to_numpy(), MATTERGEN_WINDOWS[column.name]
    return {"n": len(values), "of": len(column), "quantiles": {f"{q:g}": float(np.quantile(values, q)) for q in QUANTILES},
            "mean": float(values.mean()), "share_at_or_above_mattergen": float(np.mean(values >= window)),
            "mattergen_window": window}


def label_summary(dataset: str = "mp_20", split: str = "val", root: Path | None = None) -> dict:
    labels = load_labels(dataset, split, root)
    out = {"dataset": dataset, "split": split, "n": len(labels), "failed": int(labels["failed"].sum()),
           "relax": labels.attrs["manifest"].get("relax"), "seconds": labels.attrs["manifest"].get("seconds"),
           "device": labels.attrs["manifest"].get("device")}
    columns = [labels[c] for c in MATTERGEN_WINDOWS if c in labels]
    with contextlib.suppress(LabelsError):   # bulk moduli: a sample of the split, in their own file
        columns.append(load_bulk_moduli(dataset, split, root)["bulk_modulus_gpa"])
    return out | {column.name: _distribution(column) for column in columns}


def literature_checks(dataset: str = "mp_20", root: Path | None = None) -> list[dict]:
    """CHGNet against measured values for the listed crystals of the data: magnetic density from the
    cached labels; bulk modulus computed here (7 energies per crystal) at the dataset's geometry,
    as the labels are."""
    from pymatgen.core import Structure
    rows = []
    for split in ("val", "test"):
        labels = load_labels(dataset, split, root).set_index("material_id")
        table = load_table(dataset, split).set_index("material_id")
        wanted = [mid for mid in LITERATURE_BULK_MODULUS if mid in table.index]
        if wanted:
            fits = bulk_moduli([Structure.from_str(table.loc[mid, "cif"], fmt="cif") for mid in wanted])
            for mid, k in zip(wanted, fits["bulk_modulus_gpa"]):
                formula, measured = LITERATURE_BULK_MODULUS[mid]
                rows.append({"material_id": mid, "formula": formula, "split": split, "property": "bulk modulus (GPa)",
                             "chgnet": float(k), "measured": measured, "source": "Kittel, 8th ed., ch. 3"})
        for mid, (formula, moment) in LITERATURE_MOMENT.items():
            if mid in labels.index:
                s = Structure.from_str(table.loc[mid, "cif"], fmt="cif")
                rows.append({"material_id": mid, "formula": formula, "split": split,
                             "property": "magnetic density (μB/Å³)",
                             "chgnet": float(labels.loc[mid, "magmom_per_volume"]),
                             "measured": moment * len(s) / s.volume, "source": "Kittel, 8th ed., ch. 11, Table 2"})
    return rows


def report(root: Path | None = None) -> dict:
    out = {"hull": {kind: hull_validation("mp_20", root, kind) for kind in ("fitted", "prototypes")},
           "formation_energy": formation_validation("mp_20", root),
           "labels": label_summary("mp_20", "val", root), "literature": literature_checks("mp_20", root)}
    try:
        out["hull_perov_5"] = hull_validation("perov_5", root)
    except LabelsError as err:  # Perov-5 labels are optional; say why they are missing
        out["hull_perov_5"] = {"missing": str(err)}
    return jsonable(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=None, help="label folder (default <data>/oracle)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = report(args.root)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""E_hull and S.U.N. of the crystals the stability step relaxed, on a reference hull (``matlib.oracle``)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .report import FRACTION, TableBuilder



def resolve_hull(hull, dataset: str):
    """(hull or None, why there is none): "auto" loads the dataset's cached hull if it has labels."""
    if hull != "auto":
        return hull, None
    from ..oracle.labels import LabelsError
    from ..oracle.references import cached_dataset_hull
    try:
        return cached_dataset_hull(dataset), None
    except (LabelsError, KeyError) as err:
        return None, f"no reference hull for {dataset}: {err}"


SUN_THRESHOLDS = (0.1, 0.0)       # eV/atom: MatterGen's "stable", and on the hull


def add_sun(out: TableBuilder, per: pd.DataFrame, relaxed: pd.DataFrame, valid_share: float, hull) -> None:
    """E_hull of the relaxed subset on ``hull``; S.U.N. = share valid × share of the relaxed valid
    subset that is stable, unique and novel (unique and novel as computed above, on the generated
    crystals). A relaxation that exploded counts as not stable."""
    from ..oracle.hull import STABILITY_TOLERANCE, e_above_hull
    ok = [k for k, final in enumerate(relaxed["final"]) if final is not None and relaxed["ok"].iloc[k]]
    e_hull = np.full(len(relaxed), np.nan)
    if ok:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # crystals outside the hull's elements stay NaN, counted below
            e_hull[ok] = e_above_hull(hull, [relaxed["final"].iloc[k] for k in ok],
                                      relaxed["e_relaxed"].to_numpy(dtype=float)[ok])
    index = relaxed["index"].to_numpy()
    per["e_hull"] = np.nan
    per.loc[index, "e_hull"] = e_hull
    n = len(relaxed)
    note = f"CHGNet-relaxed; hull: {getattr(hull, 'description', 'reference hull')}"
    out.add("e_hull_median", float(np.nanmedian(e_hull)) if np.isfinite(e_hull).any() else np.nan, "eV/atom",
            int(np.isfinite(e_hull).sum()), f"median E_hull of relaxed valid samples; {note}")
    if "novel" not in per or per.loc[index, "novel"].isna().all():
        return                                   # no training set given: novelty and S.U.N. are undefined
    unique = per.loc[index, "unique"].fillna(False).to_numpy(dtype=bool)
    novel = per.loc[index, "novel"].fillna(False).to_numpy(dtype=bool)
    for t in SUN_THRESHOLDS:
        stable = np.nan_to_num(e_hull, nan=np.inf) <= t + STABILITY_TOLERANCE
        out.add(f"stable_{t:g}", float(stable.mean()), FRACTION, n,
                f"share of {n} relaxed valid samples with E_hull <= {t:g} eV/atom; {note}")
        out.add(f"sun_{t:g}", valid_share * float((stable & unique & novel).mean()), FRACTION, n,
                f"share of ALL samples: valid share x share of {n} relaxed valid samples that are stable "
                f"(E_hull <= {t:g}), unique and novel; {note}")

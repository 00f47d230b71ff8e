"""Judging generated crystals with the oracle: relax, place on the reference hull, count S.U.N.

``sun_frame`` follows MatterGen's order: CDVAE validity on the generated crystal; CHGNet relaxes
the valid ones; E_hull, uniqueness (StructureMatcher among the relaxed crystals) and novelty
(against the training split) are taken on the relaxed crystals. ``sun_rates`` then divides by ALL
generated crystals, so invalid and unrelaxable ones count against the rate.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from ..evaluation.matching import novel_flags, unique_flags
from ..evaluation.validity import validity_table
from .batched import relax
from .hull import e_above_hull, sun_rates

RELAX = dict(steps=100, fmax=0.1)      # generated crystals: looser than the references' 0.05 eV/Å


def sun_frame(structures: Sequence[Structure | None], hull, train: Sequence[Structure], *,
              relax_steps: int = RELAX["steps"], fmax: float = RELAX["fmax"], device: str | None = None,
              executor=None, graph_executor=None) -> pd.DataFrame:
    """One row per generated crystal: valid, relaxed (bool), e_relaxed (eV/atom), e_hull (eV/atom),
    unique, novel. ``executor`` runs the matching, ``graph_executor`` builds CHGNet's graphs."""
    frame = validity_table(structures, executor=executor, progress_bar=False)
    frame["valid"] = frame["struct_valid"] & frame["comp_valid"]
    frame[["relaxed", "unique", "novel"]] = False
    frame[["e_relaxed", "e_hull"]] = np.nan
    valid = np.flatnonzero(frame["valid"].to_numpy())
    if len(valid) == 0:
        return frame
    finals, table = relax([structures[i] for i in valid], steps=relax_steps, fmax=fmax, device=device,
                          executor=graph_executor, batch_size=512)
    done = [k for k, f in enumerate(finals) if f is not None]
    rows = valid[done]
    relaxed = [finals[k] for k in done]
    frame.loc[rows, "relaxed"] = True
    frame.loc[rows, "e_relaxed"] = table["e_relaxed"].to_numpy()[done]
    if relaxed:
        frame.loc[rows, "e_hull"] = e_above_hull(hull, relaxed, table["e_relaxed"].to_numpy()[done])
        frame.loc[rows, "unique"] = unique_flags(relaxed, executor=executor, progress_bar=False)
        frame.loc[rows, "novel"] = novel_flags(relaxed, train, executor=executor, progress_bar=False)
    frame.attrs.update(relax_steps=relax_steps, fmax=fmax, converged=int(table["converged"].sum()))
    return frame


def sun_summary(frame: pd.DataFrame, thresholds: Sequence[float] = (0.1, 0.0)) -> dict:
    """``sun_rates`` of a ``sun_frame`` plus how many crystals relaxed and the median E_hull."""
    out = sun_rates(frame["e_hull"], frame["valid"] & frame["relaxed"], frame["unique"], frame["novel"],
                    thresholds=thresholds)
    finite = frame["e_hull"].dropna()
    out.update(relaxed=float(frame["relaxed"].mean()),
               median_e_hull=float(finite.median()) if len(finite) else float("nan"),
               relax_steps=frame.attrs.get("relax_steps"), fmax=frame.attrs.get("fmax"))
    return out

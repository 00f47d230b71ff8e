"""The stability proxy on a GPU: every structure relaxed together by the batched FIRE of
``matlib.oracle.relax`` (one CHGNet call per step for all unconverged structures), reported in the
same rows as :func:`matlib.evaluation.stability.relax_one`.

One structure at a time, a GPU spends a relaxation step on a graph of a few atoms; batched, it
sees hundreds of crystals per call. The crystal graphs are built on the CPU, in ``executor``'s
processes when one is given.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from pymatgen.core import Structure

from ..parallel import parallel_map
from .matching import make_matcher
from .validity import MIN_DISTANCE


def _match_rms(pair: tuple[Structure, Structure | None]) -> float:
    initial, final = pair
    if final is None:
        return float("nan")
    try:
        rms = make_matcher().get_rms_dist(initial, final)
    except Exception:  # a matcher failure leaves the column NaN, as relax_one does
        return float("nan")
    return float("nan") if rms is None else float(rms[0])


def relax_batched(structures: Sequence[Structure], *, steps: int, fmax: float, volume_factor: float,
                  device: str | None, executor=None, progress_bar: bool = True, keep_final: bool = False,
                  batch_size: int = 256) -> list[dict]:
    """One ``relax_one``-shaped row per structure (``ok`` False and ``error`` set where it failed)."""
    from ..oracle.batched import relax
    from .stability import min_distance, site_rmsd
    finals, frame = relax(structures, steps=steps, fmax=fmax, device=device, batch_size=batch_size,
                          volume_factor=volume_factor, executor=executor, progress_bar=progress_bar)
    match = parallel_map(_match_rms, list(zip(structures, finals)), executor=executor, progress_bar=False)
    rows = []
    for initial, final, got, rms in zip(structures, finals, frame.to_dict("records"), match):
        row = {"n_atoms": len(initial), "e_initial": got["e_initial"], "e_relaxed": got["e_relaxed"],
               "e_drop": got["e_initial"] - got["e_relaxed"], "rmsd": np.nan, "match_rms": rms,
               "volume_ratio": got["volume_ratio"], "min_distance": np.nan, "steps_taken": int(got["steps_taken"]),
               "converged": bool(got["converged"]), "ok": False, "error": got["reason"]}
        if final is not None:
            row.update(rmsd=site_rmsd(initial, final), min_distance=min_distance(final))
            row["ok"] = bool(np.isfinite([row["e_initial"], row["e_relaxed"]]).all()
                             and row["min_distance"] >= MIN_DISTANCE)
        if keep_final:
            row["final"] = final
        rows.append(row)
    return rows

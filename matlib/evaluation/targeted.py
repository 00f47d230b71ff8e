"""One scorecard for property-targeted generation: success rate with validity, diversity and novelty.

Shared by every conditional method (adapters + guidance, Con-CDVAE, latent search) so their rows
compare: the same judge, the same window, the same definitions.

* ``success_rate``: valid AND judged property in [lo, hi], over ALL samples (``evaluation.success``);
* ``valid``: CDVAE's structure and SMACT validity; ``in_window_of_valid``: the window share among valid;
* ``unique``: share of valid samples that match no earlier valid sample (StructureMatcher);
* ``novel``: share of valid samples that match no training crystal;
* ``judged_mean``/``judged_std``: the judge's values over valid samples.

``also={"band_gap": (judge, window)}`` adds more properties that must be in their windows too
(several targets at once); their values land in the ``judged_<name>`` columns. The parts
(``sample_frame``, ``judge_values``, ``window_report``) let one set of samples be scored against
many targets without recomputing validity and novelty.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from .matching import novel_flags, unique_flags
from .success import in_window
from .validity import validity_table


Window = tuple[float | None, float | None]


def sample_frame(structures: Sequence[Structure | None], *, train: Sequence[Structure] | None = None,
                 executor=None, diversity: bool = True, progress_bar: bool = False) -> pd.DataFrame:
    """The target-independent part: validity, uniqueness and novelty per sample. Compute it once
    and score the same samples against several targets with ``window_report``."""
    frame = validity_table(structures, executor=executor, progress_bar=progress_bar)
    frame["valid"] = frame["struct_valid"] & frame["comp_valid"]
    # a single element has formation energy 0 by definition: a success at that target says little
    frame["single_element"] = [s is not None and len(s.composition.elements) == 1 for s in structures]
    valid_index = np.flatnonzero(frame["valid"].to_numpy())
    valid = [structures[i] for i in valid_index]
    frame["unique"] = False
    frame["novel"] = False
    frame.attrs.update(diversity=diversity, novelty=diversity and train is not None)
    if diversity and valid:
        frame.loc[valid_index, "unique"] = unique_flags(valid, executor=executor, progress_bar=progress_bar)
        if train is not None:
            frame.loc[valid_index, "novel"] = novel_flags(valid, train, executor=executor, progress_bar=progress_bar)
    return frame


def judge_values(structures: Sequence[Structure | None], judge: Callable[[list[Structure]], np.ndarray]) -> np.ndarray:
    """The judge's value per sample, NaN where there is no structure."""
    values = np.full(len(structures), np.nan)
    where = [i for i, s in enumerate(structures) if s is not None]
    if where:
        values[where] = judge([structures[i] for i in where])
    return values


def window_report(frame: pd.DataFrame, judged: np.ndarray, window: Window,
                  also: dict[str, tuple[np.ndarray, Window]] | None = None) -> tuple[dict, pd.DataFrame]:
    """``(summary, per_structure)`` from a ``sample_frame`` and judged values (``also``: more
    properties' values and windows that must hold too)."""
    lo, hi = window
    frame = frame.copy()
    frame["judged"] = judged
    frame["in_window"] = in_window(judged, lo, hi)
    for name, (values, other_window) in (also or {}).items():
        frame[f"judged_{name}"] = values
        frame["in_window"] &= in_window(values, *other_window)
    frame["success"] = frame["valid"] & frame["in_window"]
    valid_index = np.flatnonzero(frame["valid"].to_numpy())
    n, n_valid = len(frame), len(valid_index)
    values = judged[valid_index]
    values = values[np.isfinite(values)]
    diversity, novelty = frame.attrs.get("diversity", True), frame.attrs.get("novelty", True)
    summary = {
        "n": n, "success_rate": float(frame["success"].mean()) if n else float("nan"),
        "n_success": int(frame["success"].sum()), "valid": n_valid / n if n else float("nan"),
        "single_element": int((frame["success"] & frame["single_element"]).sum()) if "single_element" in frame else 0,
        "in_window_of_valid": float(frame["in_window"].to_numpy()[valid_index].mean()) if n_valid else float("nan"),
        "unique": float(frame["unique"].to_numpy()[valid_index].mean()) if diversity and n_valid else float("nan"),
        "novel": float(frame["novel"].to_numpy()[valid_index].mean()) if novelty and n_valid else float("nan"),
        "judged_mean": float(values.mean()) if len(values) else float("nan"),
        "judged_std": float(values.std()) if len(values) else float("nan"),
        "window": [lo, hi],
    }
    return summary, frame


def targeted_report(structures: Sequence[Structure | None], judge: Callable[[list[Structure]], np.ndarray],
                    window: Window, *, train: Sequence[Structure] | None = None, executor=None,
                    diversity: bool = True, progress_bar: bool = False,
                    also: dict[str, tuple[Callable, Window]] | None = None) -> tuple[dict, pd.DataFrame]:
    """``(summary, per_structure)`` for one set of generated crystals and one target."""
    frame = sample_frame(structures, train=train, executor=executor, diversity=diversity, progress_bar=progress_bar)
    others = {name: (judge_values(structures, other), w) for name, (other, w) in (also or {}).items()}
    return window_report(frame, judge_values(structures, judge), window, others)


def oracle_check(structures: Sequence[Structure | None], per_sample: pd.DataFrame, judge: Callable,
                 window: Window, *, limit: int, seed: int = 0, others_ok: np.ndarray | None = None) -> dict:
    """The same success, judged again by an independent ``judge`` (e.g. ``matlib.oracle``'s) on a
    seeded random subset of at most ``limit`` samples (all samples are eligible: an invalid one is
    a failure, as in ``window_report``). ``others_ok``: per sample, whether the task's other
    conditions hold (they keep their first judge). Returns ``success_oracle`` (a share of the
    subset), ``n_oracle``, the oracle's median value over valid samples, and ``agreement`` (share
    of the subset where both judges give the same verdict)."""
    return oracle_checks([(structures, per_sample, window, others_ok)], judge, limit=limit, seed=seed)[0]


def oracle_checks(requests: Sequence[tuple], judge: Callable, *, limit: int, seed: int = 0) -> list[dict]:
    """:func:`oracle_check` for several ``(structures, per_sample, window, others_ok)`` at once: the
    judge sees every request's subset in one call (a batched relaxation is several times faster per
    crystal than many small ones), each crystal once even when several requests share it."""
    if limit <= 0:
        return [{} for _ in requests]
    plans, batch, slot = [], [], {}
    for structures, per_sample, window, others_ok in requests:
        if not len(per_sample):
            plans.append(None)
            continue
        rng = np.random.default_rng(seed)               # each request draws its subset as it would alone
        chosen = np.sort(rng.choice(len(per_sample), size=min(limit, len(per_sample)), replace=False))
        valid = per_sample["valid"].to_numpy(dtype=bool)[chosen]
        for i in chosen[valid]:
            if id(structures[i]) not in slot:            # a baseline judged for several tasks: once
                slot[id(structures[i])] = len(batch)
                batch.append(structures[i])
        plans.append((chosen, valid))
    judged = judge_values(batch, judge) if batch else np.zeros(0)
    out = []
    for (structures, per_sample, window, others_ok), plan in zip(requests, plans):
        if plan is None:
            out.append({})
            continue
        chosen, valid = plan
        values = np.full(len(chosen), np.nan)
        values[valid] = [judged[slot[id(structures[i])]] for i in chosen[valid]]
        ok = valid & in_window(values, *window)
        if others_ok is not None:
            ok &= np.asarray(others_ok, dtype=bool)[chosen]
        first = per_sample["success"].to_numpy(dtype=bool)[chosen]
        finite = values[np.isfinite(values)]
        out.append({"success_oracle": float(ok.mean()), "n_oracle": int(len(chosen)),
                    "oracle_median": float(np.median(finite)) if len(finite) else float("nan"),
                    "agreement": float((ok == first).mean())})
    return out


__all__ = ["sample_frame", "judge_values", "window_report", "targeted_report", "oracle_check", "oracle_checks"]

"""Each generator's best candidates, picked the same way for every method.

A candidate is a valid crystal (structure and composition), one per reduced formula. Where a
crystal was generated for a target, the best are those whose judged property lies nearest the target
(in window half-widths, summed over targeted properties); otherwise the best are those the dataset's
energy judge calls most stable. The judge is always notebook 01's GNN, run here, so a method's own
ranking never decides.

Targets come from the frame itself (``target_<property>`` in the extxyz info, which notebooks 05, 06
and 08 write) or, for files written before that, from the notebook's results (one target per file).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from pymatgen.core import Structure

from ..registry import get_spec

TARGET_PREFIX = "target_"


def output_file(res: dict, root: str | Path, stem: str, suffix: str = ".extxyz") -> Path | None:
    """A notebook's output file named in its results, found under `root` if it moved (another machine)."""
    for recorded in res.get("files", {}).values():
        recorded = Path(recorded)
        if recorded.suffix != suffix:
            continue
        for candidate in (recorded, Path(root) / stem / recorded.name):
            if candidate.exists():
                return candidate
    return None


def frame_targets(info: Mapping) -> dict[str, float]:
    return {k[len(TARGET_PREFIX):]: float(v) for k, v in info.items() if k.startswith(TARGET_PREFIX)}


def results_targets(stem: str, res: dict) -> dict[str, float]:
    """The one target of a file written without per-frame targets (notebooks 06 and 08), else {}."""
    metrics = res.get("metrics", {})
    if stem == "08_latent_swarm" and "task" in metrics:
        return {metrics["task"]["property"]: float(metrics["task"]["target"])}
    if stem == "06_adapters_guidance":   # its file holds the band-gap task at the chosen guidance
        window = next((w for task, w in metrics.get("windows", {}).items() if task.startswith("band gap")), None)
        return {"band_gap": float(np.mean(window))} if window else {}
    return {}


def half_widths(res: dict) -> dict[str, float]:
    """Each targeted property's window half-width, from notebook 05's windows (per task, per property)
    and notebook 08's task. Notebook 06 keys its windows by task alone, and its file holds one
    property, where the width does not change the ranking."""
    metrics = res.get("metrics", {})
    windows = list(metrics.get("windows", {}).values())
    if isinstance(metrics.get("task"), dict):
        windows.append({metrics["task"]["property"]: metrics["task"]["window"]})
    out = {}
    for window in windows:
        if isinstance(window, dict):
            out.update({prop: (hi - lo) / 2 for prop, (lo, hi) in window.items()})
    return out


def dataset_of(stem: str, res: dict) -> str | None:
    """The dataset a notebook's crystals belong to (whose judges score them)."""
    metrics = res.get("metrics", {})
    if isinstance(metrics.get("dataset"), str):
        return metrics["dataset"]
    if isinstance(metrics.get("task"), dict):
        return metrics["task"].get("dataset")
    base = metrics.get("base_model", {})
    if isinstance(base, dict) and base.get("checkpoint"):
        return Path(base["checkpoint"]).name.split("__")[0]
    return None


def scores(structures: Sequence[Structure], targets: Sequence[Mapping[str, float]], dataset: str,
           judge: Callable[[str], Callable], widths: Mapping[str, float] | None = None
           ) -> tuple[np.ndarray, str, dict[str, np.ndarray]]:
    """Lower is better. With targets: summed |judged − target| / half-width; without: judged energy.

    `judge(prop)` returns a callable that maps structures to values (a `matlib.judges.Judge`).
    Returns the scores, the rule's name and the judged values per property.
    """
    if any(targets):
        total, judged = np.zeros(len(structures)), {}
        for prop in sorted({p for t in targets for p in t}):
            judged[prop] = np.asarray(judge(prop)(structures), dtype=float)
            wanted = np.array([t.get(prop, np.nan) for t in targets])
            total += np.where(np.isnan(wanted), 0.0, np.abs(judged[prop] - wanted) / (widths or {}).get(prop, 1.0))
        total[[not t for t in targets]] = np.nan      # a crystal made for no target cannot be nearest one
        return total, "nearest the target", judged
    energy = get_spec(dataset).default_property
    values = np.asarray(judge(energy)(structures), dtype=float)
    return values, "most stable by the judge", {energy: values}


def best(structures: Sequence[Structure], valid: Sequence[bool], score: Sequence[float], k: int) -> list[int]:
    """Indices of the `k` best valid crystals (lowest score), one per reduced formula."""
    if k <= 0:
        return []
    order = np.argsort(np.asarray(score, dtype=float), kind="stable")
    chosen, formulas = [], set()
    for i in order:
        if not valid[i] or not np.isfinite(score[i]):
            continue
        formula = structures[i].composition.reduced_formula
        if formula in formulas:
            continue
        formulas.add(formula)
        chosen.append(int(i))
        if len(chosen) == k:
            break
    return chosen


__all__ = ["output_file", "frame_targets", "results_targets", "half_widths", "dataset_of", "scores",
           "best"]

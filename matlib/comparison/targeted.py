"""Table 3: the success rates of the targeted generators (Con-CDVAE, adapters + guidance, the
latent swarm) with their baselines, and the targets two or more of them share."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..registry import get_spec
from .tables import TARGETED, _conditions

TABLE3_COLUMNS = ["success_rate", "valid", "in_window_of_valid", "unique", "novel", "n", "n_success", "seconds",
                  "success_oracle", "n_oracle"]     # the same success judged again by the CHGNet oracle, on a subset



def task_name(dataset: str, prop: str, target: float) -> str:
    """The label the notebooks give a target, e.g. ``Perov-5 heat_ref 0.5 eV/atom``."""
    spec = get_spec(dataset)
    unit = spec.properties[prop].unit
    if dataset == "mp_20":
        words = {"formation_energy_per_atom": "formation energy", "band_gap": "band gap"}.get(prop, prop)
        return f"{words} {target:g} {unit}"
    return f"{spec.title} {prop} {target:g} {unit}"


def _targeted_rows(stem: str, res: dict) -> list[dict]:
    metrics = res["metrics"]
    if stem == "05_con_cdvae":
        return [{**r, "window": metrics["windows"][r["task"]]} for r in metrics["success"]]
    if stem == "06_adapters_guidance":
        shares = metrics.get("data_share_in_window", {})
        return [{**r, "method": f"{r['method']}, γ = {r['gamma']:g}", "seconds": r.get("sampling_seconds"),
                 "window": metrics["windows"][r["task"]],
                 "data_share": shares.get(r["task"], {}).get(res.get("train_split"), np.nan)}
                for r in metrics["success"]]
    if stem == "08_latent_swarm":
        task = metrics["task"]
        share = metrics["data_share_in_window"]
        # the searches share one decode-and-judge clock; each is charged its even share
        seconds = res["timings_s"].get("decode_and_judge", np.nan) / max(len(metrics["final_round"]), 1)
        return [{**r, "task": task_name(task["dataset"], task["property"], task["target"]),
                 "n_success": round(r["success_rate"] * r["n"]), "seconds": seconds, "judge": task["judge"],
                 "window": task["window"], "data_share": share.get(res.get("train_split"), np.nan)}
                for r in metrics["final_round"]]
    if stem == "10_podgen":       # chains and their unconstrained baseline; a task may name two windows
        return [{**r, "window": metrics["windows"][r["task"]]} for r in metrics["success"] if r.get("n")]
    raise ValueError(f"{stem} is not a targeted-generation notebook")


def targeted_table(found: dict[str, dict]) -> pd.DataFrame:
    """Every success-rate row of the targeted notebooks, with the cost of a success:
    generation seconds per 1,000 successes (valid and in the window)."""
    rows = []
    for stem in TARGETED:
        if stem in found:
            for r in _targeted_rows(stem, found[stem]):
                rows.append({"task": r["task"], "method": r["method"], "notebook": stem,
                             **{c: r.get(c, np.nan) for c in TABLE3_COLUMNS},
                             "data_share": r.get("data_share", np.nan), "judge": r.get("judge"),
                             "window": r.get("window"), **_conditions(found[stem])})
    table = pd.DataFrame(rows, columns=["task", "method", "notebook", *TABLE3_COLUMNS, "data_share", "judge", "window",
                                        "profile", "train_split", "hardware"])
    table["window_range"] = [_window_text(w) for w in table["window"]]
    seconds = pd.to_numeric(table["seconds"], errors="coerce")
    successes = pd.to_numeric(table["n_success"], errors="coerce")
    table["seconds_per_1000_successes"] = 1000 * seconds / successes.where(successes > 0)   # no success, no price
    return table


def _window_text(window) -> str:
    """``[2.5, 3.5]``, or ``[-2.25, -1.75] & [2.5, 3.5]`` for a task with several properties."""
    if isinstance(window, dict):
        return " & ".join(_window_text(w) for w in window.values())
    if window is None or (isinstance(window, float) and math.isnan(window)):
        return "–"
    lo, hi = window
    return f"[{lo:g}, {hi:g}]"


def judges_used(table: pd.DataFrame) -> str:
    """The judges behind a Table 3, one line each (they are too long for a column)."""
    names = sorted({j for j in table["judge"].dropna()})
    return "".join(f"- {name}\n" for name in names) if names else ""


def shared_tasks(table: pd.DataFrame) -> list[str]:
    """Targets that at least two notebooks aimed at: the rows that compare like with like."""
    counts = table.groupby("task")["notebook"].nunique()
    return sorted(counts[counts >= 2].index)


SHOWN_TABLE3 = ["task", "window_range", "method", "notebook", "success_rate", "success_oracle", "valid", "unique",
                "novel", "n", "n_oracle", "seconds_per_1000_successes", "data_share", "profile", "train_split", "hardware"]
RATES = ("success_rate", "success_oracle", "valid", "unique", "novel", "data_share")
RATE_ERRORS = {"success_rate": "n", "valid": "n", "success_oracle": "n_oracle"}   # shown ± a binomial SE


def shared_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Table 3 restricted to the shared targets, best first within each target."""
    rows = table[table.task.isin(shared_tasks(table))][SHOWN_TABLE3]
    return rows.sort_values(["task", "success_rate"], ascending=[True, False])

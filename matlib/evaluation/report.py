"""The result of :func:`matlib.evaluation.evaluate`: a tidy table, per-structure rows, metadata.

* ``table``: one row per metric, columns ``method, dataset, metric, value, unit, n, note``.
  Shares (validity, coverage, uniqueness, novelty, match rate, success, CHGNet ok) are
  **fractions in [0, 1]**, not percentages; ``n`` is the denominator (or the number of values
  averaged). A metric whose inputs were not given (no ``train`` → no novelty, ...) is absent.
* ``per_structure``: one row per generated sample, in input order, with its flags and values.
* ``meta``: settings, thresholds, matcher, package versions (smact's included) and timings.

Several reports (methods) combine with :func:`combine_tables` and :func:`wide_table`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import pandas as pd

FRACTION = "fraction"          # the unit of every share: a fraction in [0, 1]
TABLE_COLUMNS = ["method", "dataset", "metric", "value", "unit", "n", "note"]


def _plain(value):
    """JSON-friendly scalars: numpy -> Python, NaN/inf -> None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def wide_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, dataset), one column per metric, in the order metrics first appear."""
    order = list(dict.fromkeys(table["metric"]))
    wide = table.pivot_table(index=["method", "dataset"], columns="metric", values="value", aggfunc="first",
                             sort=False)
    wide = wide[[m for m in order if m in wide.columns]]
    wide.columns.name = None
    return wide.reset_index()


def combine_tables(reports: Iterable["EvaluationReport"]) -> pd.DataFrame:
    """The tidy tables of several reports stacked (e.g. one per method)."""
    return pd.concat([r.table for r in reports], ignore_index=True)


@dataclass
class EvaluationReport:
    table: pd.DataFrame
    per_structure: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        return dict(zip(self.table["metric"], self.table["value"]))

    def __getitem__(self, metric: str) -> float:
        rows = self.table.loc[self.table["metric"] == metric, "value"]
        if rows.empty:
            raise KeyError(f"no metric {metric!r}; have {list(self.table['metric'])}")
        return float(rows.iloc[0])

    def __contains__(self, metric: str) -> bool:
        return bool((self.table["metric"] == metric).any())

    def wide(self) -> pd.DataFrame:
        """One row per method (here: one row), one column per metric."""
        return wide_table(self.table)

    def as_dict(self) -> dict:
        """Everything but the per-structure rows, JSON-ready (e.g. for results.write_results)."""
        details = {row.metric: {"unit": row.unit, "n": _plain(row.n), "note": row.note}
                   for row in self.table.itertuples()}
        return _plain({
            "method": self.meta.get("method", ""),
            "dataset": self.meta.get("dataset", ""),
            "metrics": self.metrics,
            "details": details,
            "meta": self.meta,
        })

    def __repr__(self) -> str:
        shown = ", ".join(f"{m}={v:.4g}" for m, v in list(self.metrics.items())[:6])
        return (f"EvaluationReport(method={self.meta.get('method', '')!r}, dataset={self.meta.get('dataset', '')!r}, "
                f"{len(self.table)} metrics: {shown}, ...)")


class TableBuilder:
    """Collects metric rows; a metric whose value is None is left out (never NaN-filled)."""

    def __init__(self, method: str, dataset: str):
        self.method, self.dataset = method, dataset
        self.rows: list[dict] = []

    def add(self, metric: str, value, unit: str = "", n: int | None = None, note: str = "") -> None:
        if value is None:
            return
        self.rows.append({"method": self.method, "dataset": self.dataset, "metric": metric,
                          "value": float(value), "unit": unit, "n": None if n is None else int(n), "note": note})

    def frame(self) -> pd.DataFrame:
        table = pd.DataFrame(self.rows, columns=TABLE_COLUMNS)
        table["n"] = table["n"].astype("Int64")
        return table


__all__ = ["EvaluationReport", "TABLE_COLUMNS", "wide_table", "combine_tables", "TableBuilder"]

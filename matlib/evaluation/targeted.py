"""One scorecard for property-targeted generation: success rate with validity, diversity and novelty.

Shared by every conditional method (adapters + guidance, Con-CDVAE, latent search) so their rows
compare: the same judge, the same window, the same definitions.

* ``success_rate``: valid AND judged property in [lo, hi], over ALL samples (``evaluation.success``);
* ``valid``: CDVAE's structure and SMACT validity; ``in_window_of_valid``: the window share among valid;
* ``unique``: share of valid samples that match no earlier valid sample (StructureMatcher);
* ``novel``: share of valid samples that match no training crystal;
* ``judged_mean``/``judged_std``: the judge's values over valid samples.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from .matching import novel_flags, unique_flags
from .success import in_window
from .validity import validity_table


def targeted_report(structures: Sequence[Structure | None], judge: Callable[[list[Structure]], np.ndarray],
                    window: tuple[float | None, float | None], *, train: Sequence[Structure] | None = None,
                    executor=None, diversity: bool = True, progress_bar: bool = False
                    ) -> tuple[dict, pd.DataFrame]:
    """``(summary, per_structure)`` for one set of generated crystals."""
    lo, hi = window
    frame = validity_table(structures, executor=executor, progress_bar=progress_bar)
    frame["valid"] = frame["struct_valid"] & frame["comp_valid"]
    judged = np.full(len(structures), np.nan)
    where = [i for i, s in enumerate(structures) if s is not None]
    if where:
        judged[where] = judge([structures[i] for i in where])
    frame["judged"] = judged
    frame["in_window"] = in_window(judged, lo, hi)
    frame["success"] = frame["valid"] & frame["in_window"]
    valid_index = np.flatnonzero(frame["valid"].to_numpy())
    valid = [structures[i] for i in valid_index]
    frame["unique"] = False
    frame["novel"] = False
    if diversity and valid:
        frame.loc[valid_index, "unique"] = unique_flags(valid, executor=executor, progress_bar=progress_bar)
        if train is not None:
            frame.loc[valid_index, "novel"] = novel_flags(valid, train, executor=executor, progress_bar=progress_bar)
    n, n_valid = len(frame), len(valid_index)
    values = judged[valid_index]
    values = values[np.isfinite(values)]
    summary = {
        "n": n, "success_rate": float(frame["success"].mean()) if n else float("nan"),
        "n_success": int(frame["success"].sum()), "valid": n_valid / n if n else float("nan"),
        "in_window_of_valid": float(frame["in_window"].to_numpy()[valid_index].mean()) if n_valid else float("nan"),
        "unique": float(frame["unique"].to_numpy()[valid_index].mean()) if diversity and n_valid else float("nan"),
        "novel": (float(frame["novel"].to_numpy()[valid_index].mean())
                  if diversity and n_valid and train is not None else float("nan")),
        "judged_mean": float(values.mean()) if len(values) else float("nan"),
        "judged_std": float(values.std()) if len(values) else float("nan"),
        "window": [lo, hi],
    }
    return summary, frame


__all__ = ["targeted_report"]

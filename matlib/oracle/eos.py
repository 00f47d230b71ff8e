"""Bulk modulus from CHGNet: a Birch–Murnaghan fit of E(V) over isotropically scaled cells.

Each relaxed crystal is scaled to ``n_volumes`` volumes within ±``span`` of its own; all volumes of
all crystals go through one batched ``predict``. K comes from pymatgen's ``EOS("birch_murnaghan")``
in GPa. CHGNet is known to soften crystals (it underestimates K, typically by 10–30 %).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from pymatgen.analysis.eos import EOS
from pymatgen.core import Structure

from .batched import predict


def fit_bulk_modulus(volumes: Sequence[float], energies: Sequence[float]) -> dict:
    """Birch–Murnaghan fit of total energies (eV) against volumes (Å³): K (GPa), K', V0, E0.

    Raises ValueError on fewer than 5 finite points (four parameters need some redundancy).
    """
    v, e = np.asarray(volumes, dtype=float), np.asarray(energies, dtype=float)
    keep = np.isfinite(v) & np.isfinite(e)
    if keep.sum() < 5:
        raise ValueError(f"a Birch–Murnaghan fit needs at least 5 finite E(V) points, got {int(keep.sum())}")
    fit = EOS("birch_murnaghan").fit(v[keep], e[keep])
    return {"bulk_modulus_gpa": float(fit.b0_GPa), "b1": float(fit.b1), "v0": float(fit.v0), "e0": float(fit.e0)}


def bulk_moduli(structures: Sequence[Structure], n_volumes: int = 7, span: float = 0.05, batch_size: int = 64,
                device: str | None = None, executor=None) -> pd.DataFrame:
    """One row per (relaxed) structure: bulk_modulus_gpa, b1, v0 (Å³), e0 (eV), ok, reason.

    Fits that fail or give a non-finite or non-positive K have ``ok`` False and NaN values.
    """
    factors = np.linspace(1.0 - span, 1.0 + span, n_volumes)
    scaled, volumes = [], []
    for s in structures:
        for f in factors:
            copy = s.copy()
            copy.scale_lattice(s.volume * f)
            scaled.append(copy)
            volumes.append(copy.volume)
    energies = predict(scaled, batch_size=batch_size, device=device, executor=executor)["energy_per_atom"].to_numpy()
    rows = []
    for k, s in enumerate(structures):
        part = slice(k * n_volumes, (k + 1) * n_volumes)
        row = {"bulk_modulus_gpa": np.nan, "b1": np.nan, "v0": np.nan, "e0": np.nan, "ok": False, "reason": ""}
        try:
            fit = fit_bulk_modulus(volumes[part], energies[part] * len(s))
            if not (np.isfinite(list(fit.values())).all() and fit["bulk_modulus_gpa"] > 0):
                raise ValueError(f"unphysical fit {fit}")
            row.update(fit, ok=True)
        except Exception as err:  # a failed prediction or fit is counted, never kept as a number
            row["reason"] = f"{type(err).__name__}: {err}"[:200]
        rows.append(row)
    return pd.DataFrame(rows)

"""A cheap stability proxy: relax valid samples with the CHGNet universal potential.

For each relaxed sample we record

* energy per atom before and after relaxation (eV/atom, CHGNet's prediction) and the drop;
* ``rmsd`` (Å): root-mean-square displacement of the atoms between the generated and the relaxed
  structure, site by site (relaxation keeps the atom order): fractional displacements taken to the
  nearest periodic image, with the net translation removed, expressed in the mean of the two
  cells. Cell strain itself is not in it (it is in ``volume_ratio``). This is the per-atom
  displacement MatterGen reports as "RMSD from relaxation", with CHGNet instead of DFT;
* ``match_rms``: pymatgen ``StructureMatcher.get_rms_dist`` between the two (normalised by
  (V/N)^(1/3), NaN when they no longer match), for comparison with reconstruction RMSE;
* whether it relaxed *without exploding*: finite energies, final/initial volume within
  [1/volume_factor, volume_factor], and no two atoms closer than 0.5 Å at the end;
* whether the optimiser converged (max force ≤ fmax) within ``steps``.

CHGNet is loaded once per process (its weights ship inside the wheel; no network needed).
Its calls run with ``torch_threads`` intra-op threads (default 1, restored afterwards): CHGNet's
graphs are tiny, and on a busy CPU extra OpenMP threads spin against other processes. We
measured 2.5 s instead of 0.017 s per prediction with 2 threads on a shared 2-core machine.
Parallelise over structures with an executor instead.
A proxy only: a low CHGNet energy is not thermodynamic stability (that needs a convex hull).
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import threading
import warnings
from functools import lru_cache, partial
from typing import Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from .matching import make_matcher
from ..parallel import parallel_map
from .stability_batched import relax_batched
from .validity import MIN_DISTANCE

DEFAULT_STEPS = 100
DEFAULT_FMAX = 0.1          # eV/Å, CHGNet's default
DEFAULT_VOLUME_FACTOR = 2.0
DEFAULT_TORCH_THREADS = 1


_THREADS_LOCK = threading.Lock()
_THREADS_STATE: dict = {"depth": 0, "saved": None, "limiter": None}


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run torch, OpenMP and BLAS with ``n`` threads inside the block (None: leave as is).

    torch's own setting is not enough: in worker processes numpy's OpenBLAS and libgomp threads
    oversubscribe the cores too (we measured 3x slower relaxations in a 2-process pool without
    this). Reference-counted, so overlapping uses from a thread pool restore the original
    settings only when the last one leaves (the settings are process-wide).
    """
    if n is None:
        yield
        return
    import torch
    with _THREADS_LOCK:
        if _THREADS_STATE["depth"] == 0:
            _THREADS_STATE["saved"] = torch.get_num_threads()
            torch.set_num_threads(int(n))
            try:
                from threadpoolctl import threadpool_limits
                _THREADS_STATE["limiter"] = threadpool_limits(limits=int(n))
            except Exception:  # threadpoolctl missing or confused: torch's setting still applies
                _THREADS_STATE["limiter"] = None
        _THREADS_STATE["depth"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_STATE["depth"] -= 1
            if _THREADS_STATE["depth"] == 0:
                if _THREADS_STATE["limiter"] is not None:
                    _THREADS_STATE["limiter"].restore_original_limits()
                    _THREADS_STATE["limiter"] = None
                torch.set_num_threads(_THREADS_STATE["saved"])


def chgnet_missing() -> str | None:
    """Why CHGNet cannot run here, or None. A missing package must not read as "no sample relaxed"."""
    if importlib.util.find_spec("chgnet") is None:
        return "CHGNet is not installed (pip install chgnet); the stability proxy needs it"
    return None


@lru_cache(maxsize=None)
def chgnet_model(device: str | None = None):
    """The pretrained CHGNet, loaded once per process."""
    from chgnet.model import CHGNet
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CHGNet.load(verbose=False, use_device=device)


@lru_cache(maxsize=None)
def _optimizer(device: str | None, optimizer_class: str):
    from chgnet.model import StructOptimizer
    with contextlib.redirect_stdout(io.StringIO()):
        return StructOptimizer(model=chgnet_model(device), optimizer_class=optimizer_class, use_device=device,
                               on_isolated_atoms="ignore")


def site_rmsd(initial: Structure, final: Structure) -> float:
    """RMS per-site displacement in Å (see the module docstring), same atom order required."""
    df = np.asarray(final.frac_coords) - np.asarray(initial.frac_coords)
    df -= np.round(df)                       # nearest periodic image
    df -= df.mean(axis=0)                    # a rigid shift is not a structural change
    df -= np.round(df)
    lattice = 0.5 * (np.asarray(initial.lattice.matrix) + np.asarray(final.lattice.matrix))
    return float(np.sqrt(np.mean(np.sum((df @ lattice) ** 2, axis=1))))


def min_distance(structure: Structure) -> float:
    """The shortest distance between two different atoms (nearest periodic images); inf for one atom."""
    if len(structure) < 2:
        return math.inf
    d = np.array(structure.distance_matrix, dtype=float)
    np.fill_diagonal(d, np.inf)
    return float(d.min())


def relax_one(structure: Structure, *, steps: int = DEFAULT_STEPS, fmax: float = DEFAULT_FMAX,
              volume_factor: float = DEFAULT_VOLUME_FACTOR, relax_cell: bool = True, device: str | None = None,
              optimizer_class: str = "FIRE", threads: int | None = DEFAULT_TORCH_THREADS, keep_final: bool = False) -> dict:
    """Relax one structure with CHGNet; a dict of measurements (never raises).

    ``keep_final``: also return the relaxed structure under ``"final"`` (None when it failed).
    """
    row = {"n_atoms": len(structure), "e_initial": np.nan, "e_relaxed": np.nan, "e_drop": np.nan,
           "rmsd": np.nan, "match_rms": np.nan, "volume_ratio": np.nan, "min_distance": np.nan,
           "steps_taken": 0, "converged": False, "ok": False, "error": ""}
    if keep_final:
        row["final"] = None
    try:
        optimizer = _optimizer(device, optimizer_class)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch_threads(threads):
            warnings.simplefilter("ignore")
            result = optimizer.relax(structure.copy(), fmax=fmax, steps=steps, relax_cell=relax_cell,
                                     verbose=False, assign_magmoms=False)
        final: Structure = result["final_structure"]
        if keep_final:
            row["final"] = final
        traj = result["trajectory"]
        n = len(structure)
        energies = np.asarray(traj.energies, dtype=float) / n      # ASE reports the total energy
        forces = np.asarray(traj.forces[-1], dtype=float)
        row.update(e_initial=energies[0], e_relaxed=energies[-1], e_drop=energies[0] - energies[-1],
                   steps_taken=max(len(energies) - 2, 0),           # the observer runs at start and end
                   converged=bool(np.isfinite(forces).all() and np.linalg.norm(forces, axis=1).max() <= fmax))
        row["volume_ratio"] = float(final.volume / structure.volume)
        row["min_distance"] = min_distance(final)
        row["rmsd"] = site_rmsd(structure, final)
        try:
            rms = make_matcher().get_rms_dist(structure, final)
            row["match_rms"] = np.nan if rms is None else float(rms[0])
        except Exception:
            pass
        row["ok"] = bool(np.isfinite(energies[[0, -1]]).all()
                         and 1.0 / volume_factor <= row["volume_ratio"] <= volume_factor
                         and row["min_distance"] >= MIN_DISTANCE)
    except Exception as err:  # an unsupported element, a singular cell, ...: counted as not ok
        row["error"] = f"{type(err).__name__}: {err}"[:200]
    return row


def relax_structures(structures: Sequence[Structure], *, steps: int = DEFAULT_STEPS, fmax: float = DEFAULT_FMAX,
                     max_structures: int | None = None, seed: int = 0, volume_factor: float = DEFAULT_VOLUME_FACTOR,
                     relax_cell: bool = True, device: str | None = None, threads: int | None = DEFAULT_TORCH_THREADS,
                     executor=None, progress_bar: bool = True, keep_final: bool = False) -> pd.DataFrame:
    """CHGNet relaxation of (a seeded random subset of at most ``max_structures`` of) the structures.

    One row per relaxed structure; column ``index`` is its position in ``structures``; with
    ``keep_final``, column ``final`` holds the relaxed structure.
    """
    missing = chgnet_missing()
    if missing:
        raise ImportError(missing)
    index = np.arange(len(structures))
    if max_structures is not None and len(index) > max_structures:
        index = np.sort(np.random.default_rng(seed).choice(index, size=max_structures, replace=False))
    chosen = [structures[i] for i in index]
    if device is not None and str(device).startswith("cuda") and relax_cell:   # all at once; workers build graphs
        rows = relax_batched(chosen, steps=steps, fmax=fmax, volume_factor=volume_factor, device=device,
                             executor=executor, progress_bar=progress_bar, keep_final=keep_final)
    else:
        worker = partial(relax_one, steps=steps, fmax=fmax, volume_factor=volume_factor, relax_cell=relax_cell,
                         device=device, threads=threads, keep_final=keep_final)
        rows = parallel_map(worker, chosen, executor=executor, chunksize=1, desc="CHGNet relaxation",
                            progress_bar=progress_bar)
    frame = pd.DataFrame(rows)
    frame.insert(0, "index", index)
    return frame


def stability_summary(relaxed: pd.DataFrame) -> dict[str, tuple[float, int]]:
    """Aggregate ``{metric: (value, n)}``: shares over all relaxed; means over the non-exploded ones."""
    out: dict[str, tuple[float, int]] = {}
    n = len(relaxed)
    if n == 0:
        return out
    out["chgnet_ok"] = (float(relaxed["ok"].mean()), n)
    out["chgnet_converged"] = (float(relaxed["converged"].mean()), n)
    good = relaxed[relaxed["ok"]]
    for column, metric in (("e_initial", "chgnet_e_initial"), ("e_relaxed", "chgnet_e_relaxed"),
                           ("e_drop", "chgnet_e_drop"), ("rmsd", "chgnet_rmsd"), ("match_rms", "chgnet_match_rms")):
        values = good[column].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if len(values):
            out[metric] = (float(values.mean()), len(values))
    return out


def chgnet_energy_judge(batch_size: int = 32, device: str | None = None,
                        threads: int | None = DEFAULT_TORCH_THREADS):
    """A judge: CHGNet's predicted energy per atom (eV/atom) of unrelaxed structures, NaN on failure."""

    def chgnet_energy(structures: list[Structure]) -> np.ndarray:
        model = chgnet_model(device)
        values = np.full(len(structures), np.nan)
        for start in range(0, len(structures), batch_size):
            chunk = structures[start:start + batch_size]
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch_threads(threads):
                warnings.simplefilter("ignore")
                try:
                    preds = model.predict_structure(chunk, task="e", batch_size=batch_size)
                    values[start:start + len(chunk)] = [float(p["e"]) for p in preds]
                except Exception:  # retry one by one so one bad crystal does not sink its batch
                    for k, s in enumerate(chunk):
                        try:
                            values[start + k] = float(model.predict_structure(s, task="e")["e"])
                        except Exception:
                            pass
        return values

    chgnet_energy.unit = "eV/atom"
    return chgnet_energy


__all__ = ["DEFAULT_STEPS", "DEFAULT_FMAX", "DEFAULT_VOLUME_FACTOR", "chgnet_model", "site_rmsd", "relax_one",
           "relax_structures", "stability_summary", "chgnet_energy_judge", "torch_threads"]

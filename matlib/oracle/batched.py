"""CHGNet on many structures at once: batched prediction and a batched FIRE relaxation.

``relax`` moves atoms and cell together like ASE's ``UnitCellFilter``: the generalised
coordinates are the atom positions in the undeformed cell plus ``n_atoms`` x the deformation
gradient F (cell = original cell @ F.T), and the generalised cell forces are the virial
-V·σ (σ in eV/Å³, ASE's sign: positive = tensile) divided by ``n_atoms``. Each structure keeps
its own FIRE state (ASE's defaults); every step calls CHGNet once for all unconverged
structures, so a GPU sees one large batch instead of many tiny ones. The network runs through
``fast.predict_graphs`` (CHGNet's weights, the batch assembled without a loop per crystal).

A structure converges when every atom force and every row of the cell force is ≤ ``fmax``
(ASE's criterion with the filter). It fails (``failed`` True, ``reason`` says why, no relaxed
structure returned) on non-finite input or predictions, a volume change beyond
``volume_factor``, or two atoms closer than 0.5 Å at the end.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from ase import units
from pymatgen.core import Lattice, Structure

from ..evaluation.stability import DEFAULT_TORCH_THREADS, chgnet_model, min_distance, torch_threads
from ..evaluation.validity import MIN_DISTANCE
from ..parallel import parallel_map
from ..progress import progress
from .cell import Cell
from .fast import GraphArrays, predict_graphs

MIN_PARALLEL_GRAPHS = 64              # fewer crystals than this: pickling them costs more than building
GPA = units.GPa                       # CHGNet's stress comes in GPa; ASE works in eV/Å³
FIRE = dict(dt=0.1, maxstep=0.2, dtmax=1.0, n_min=5, finc=1.1, fdec=0.5, astart=0.1, fa=0.99)


_CONVERTER: dict = {}


def _to_graph(structure: Structure | Cell):
    """CHGNet's crystal graph of one structure (None if it cannot be built); module level for pools."""
    if "converter" not in _CONVERTER:      # one converter per process, with CHGNet's own cutoffs
        from chgnet.graph import CrystalGraphConverter
        with contextlib.redirect_stdout(io.StringIO()):
            _CONVERTER["converter"] = CrystalGraphConverter(atom_graph_cutoff=6, bond_graph_cutoff=3)
    try:
        return _CONVERTER["converter"](structure.structure() if isinstance(structure, Cell) else structure)
    except Exception:  # counted by the caller as a failed prediction
        return None


def _graph_arrays(structure: Structure | Cell) -> GraphArrays | None:
    # arrays: tensors would each take a shared-memory file descriptor (thousands exhaust the limit)
    graph = _to_graph(structure)
    return None if graph is None else GraphArrays.of(graph)


def _raw_predictions(structures: Sequence[Structure | Cell], task: str, batch_size: int, device, threads,
                     executor=None) -> list:
    """CHGNet's dicts, one per structure; None where a structure could not be predicted.

    ``executor``: builds the crystal graphs in parallel (on a GPU host the graphs, built on the
    CPU one structure at a time, cost more than the network); None builds them here.
    """
    model = chgnet_model(device)
    out: list = [None] * len(structures)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch_threads(threads):
        warnings.simplefilter("ignore")
        for start in range(0, len(structures), batch_size):     # graphs per batch: all at once take GBs
            batch = structures[start:start + batch_size]
            if executor is not None and len(batch) >= MIN_PARALLEL_GRAPHS:
                graphs = parallel_map(_graph_arrays, batch, executor=executor, progress_bar=False)
            else:
                graphs = [_to_graph(s) for s in batch]
            chunk = [k for k, g in enumerate(graphs) if g is not None]
            if not chunk:
                continue
            try:
                for k, p in zip(chunk, predict_graphs(model, [graphs[k] for k in chunk], task, batch_size)):
                    out[start + k] = p
            except Exception:  # one bad crystal must not sink its batch: retry one by one, CHGNet's own way
                for k in chunk:
                    with contextlib.suppress(Exception):
                        out[start + k] = model.predict_graph(_to_graph(batch[k]), task=task)
    return out


def _finite_input(structure: Structure) -> bool:
    return bool(np.isfinite(structure.lattice.matrix).all() and np.isfinite(structure.cart_coords).all()
                and structure.volume > 1e-6)


def predict(structures: Sequence[Structure], batch_size: int = 64, device: str | None = None,
            threads: int | None = DEFAULT_TORCH_THREADS, executor=None) -> pd.DataFrame:
    """One row per structure: CHGNet energy (eV/atom), total |site magmom| per volume (μB/Å³),
    max atom force (eV/Å), max |stress component| and pressure (GPa); NaN and ``ok`` False where
    the structure could not be predicted. ``executor`` builds the crystal graphs in parallel."""
    usable = [i for i, s in enumerate(structures) if _finite_input(s)]
    raw = _raw_predictions([structures[i] for i in usable], "efsm", batch_size, device, threads, executor)
    rows = [dict(energy_per_atom=np.nan, magmom_per_volume=np.nan, max_force=np.nan, max_stress_gpa=np.nan,
                 pressure_gpa=np.nan, ok=False) for _ in structures]
    for i, p in zip(usable, raw):
        if p is None:
            continue
        s = np.asarray(p["s"], dtype=float)
        row = dict(energy_per_atom=float(p["e"]),
                   magmom_per_volume=float(np.abs(p["m"]).sum() / structures[i].volume),
                   max_force=float(np.linalg.norm(p["f"], axis=1).max()),
                   max_stress_gpa=float(np.abs(s).max()), pressure_gpa=float(-np.trace(s) / 3))
        row["ok"] = bool(np.isfinite(list(row.values())).all())
        rows[i] = row if row["ok"] else rows[i]        # nothing non-finite leaves here
    return pd.DataFrame(rows)


class _FireState:
    """One structure's relaxation: reference cell, generalised coordinates and FIRE's memory."""

    def __init__(self, structure: Structure):
        self.species = structure.species
        self.numbers = Cell.of(structure).numbers
        self.n = len(structure)
        self.cell0 = np.array(structure.lattice.matrix, dtype=float)
        self.volume0 = structure.volume
        self.x = np.vstack([np.array(structure.cart_coords, dtype=float), self.n * np.eye(3)])
        self.v = np.zeros_like(self.x)
        self.dt, self.a, self.n_pos, self.started = FIRE["dt"], FIRE["astart"], 0, False

    def deformation(self) -> np.ndarray:
        return self.x[self.n:] / self.n

    def volume(self) -> float:
        return float(abs(np.linalg.det(self.cell0 @ self.deformation().T)))

    def cell(self) -> Cell:
        f = self.deformation()
        return Cell(self.cell0 @ f.T, self.numbers, self.x[:self.n] @ f.T)

    def structure(self) -> Structure:
        f = self.deformation()
        return Structure(Lattice(self.cell0 @ f.T), self.species, self.x[:self.n] @ f.T, coords_are_cartesian=True)

    def generalised_forces(self, forces: np.ndarray, stress_gpa: np.ndarray, volume: float) -> np.ndarray:
        f = self.deformation()
        virial = -volume * np.asarray(stress_gpa, dtype=float) * GPA
        return np.vstack([np.asarray(forces, dtype=float) @ f, np.linalg.solve(f, virial.T).T / self.n])

    def step(self, g: np.ndarray) -> None:
        """ASE's FIRE step on the generalised coordinates."""
        if self.started:
            if np.vdot(g, self.v) > 0.0:
                self.v = (1 - self.a) * self.v + self.a * g / np.linalg.norm(g) * np.linalg.norm(self.v)
                if self.n_pos > FIRE["n_min"]:
                    self.dt, self.a = min(self.dt * FIRE["finc"], FIRE["dtmax"]), self.a * FIRE["fa"]
                self.n_pos += 1
            else:
                self.v[:] = 0.0
                self.a, self.dt, self.n_pos = FIRE["astart"], self.dt * FIRE["fdec"], 0
        self.started = True
        self.v += self.dt * g
        dr = self.dt * self.v
        norm = np.linalg.norm(dr)
        self.x += dr if norm <= FIRE["maxstep"] else dr * (FIRE["maxstep"] / norm)


def _final_check(row: dict, state: _FireState, volume_factor: float) -> Structure | None:
    """The relaxed structure, or None with ``failed``/``reason`` set when it blew up."""
    final = state.structure()
    row["volume_ratio"] = float(final.volume / state.volume0)
    if not (1.0 / volume_factor <= row["volume_ratio"] <= volume_factor):
        row.update(failed=True, reason=f"volume changed {row['volume_ratio']:.2f}x")
    elif min_distance(final) < MIN_DISTANCE:
        row.update(failed=True, reason="atoms closer than 0.5 Å")
    return None if row["failed"] else final


def _advance(states, rows, active, raw, fmax, volume_factor, may_step: bool) -> list[int]:
    """Use one batched prediction: record it, decide convergence or failure, step the rest."""
    still = []
    for i, p in zip(active, raw):
        row, state = rows[i], states[i]
        if p is None or not np.isfinite(p["e"]) or not np.isfinite(p["f"]).all() or not np.isfinite(p["s"]).all():
            row.update(failed=True, reason="CHGNet failed or returned non-finite values")
            continue
        g = state.generalised_forces(p["f"], p["s"], state.volume())
        row.update(e_relaxed=float(p["e"]), max_force=float(np.linalg.norm(p["f"], axis=1).max()),
                   max_stress_gpa=float(np.abs(p["s"]).max()))
        if np.isnan(row["e_initial"]):
            row["e_initial"] = row["e_relaxed"]
        ratio = np.linalg.det(state.deformation())
        if not (1.0 / volume_factor <= ratio <= volume_factor):
            row.update(failed=True, reason=f"volume changed {ratio:.2f}x")
        elif np.linalg.norm(g, axis=1).max() <= fmax:
            row["converged"] = True
        elif may_step:
            state.step(g)
            row["steps_taken"] += 1
            still.append(i)
    return still


def relax(structures: Sequence[Structure], steps: int = 200, fmax: float = 0.1, device: str | None = None,
          batch_size: int = 64, volume_factor: float = 2.0,
          threads: int | None = DEFAULT_TORCH_THREADS, executor=None,
          progress_bar: bool = False) -> tuple[list[Structure | None], pd.DataFrame]:
    """Relax positions and cells of all structures together (batched FIRE, see the module docstring).

    Returns the relaxed structures (None where relaxation failed) and one row per structure:
    e_initial/e_relaxed (eV/atom), max_force (eV/Å), max_stress_gpa, volume_ratio, steps_taken,
    converged, failed, reason. A failed row has NaN energies. ``progress_bar``: one tick per
    structure that leaves the relaxation (converged, failed or out of steps).
    """
    rows = [dict(n_atoms=len(s), e_initial=np.nan, e_relaxed=np.nan, max_force=np.nan, max_stress_gpa=np.nan,
                 volume_ratio=np.nan, steps_taken=0, converged=False, failed=False, reason="") for s in structures]
    states: list = [None] * len(structures)
    for i, s in enumerate(structures):
        if _finite_input(s):
            states[i] = _FireState(s)
        else:
            rows[i].update(failed=True, reason="non-finite or degenerate input")
    active = [i for i, s in enumerate(states) if s is not None]
    bar = progress(total=len(structures), desc="CHGNet relaxation (batched)", disable=not progress_bar)
    bar.update(len(structures) - len(active))
    for step in range(steps + 1):                   # the last prediction only checks convergence
        if not active:
            break
        raw = _raw_predictions([states[i].cell() for i in active], "efs", batch_size, device, threads,
                               executor)
        before = len(active)
        active = _advance(states, rows, active, raw, fmax, volume_factor, may_step=step < steps)
        bar.update(before - len(active))
        bar.set_postfix_str(f"step {step}, {len(active)} moving", refresh=False)
    bar.close()
    finals = [None if row["failed"] else _final_check(row, st, volume_factor) for row, st in zip(rows, states)]
    for row in rows:
        if row["failed"]:
            row.update(e_initial=np.nan, e_relaxed=np.nan, converged=False)
    return finals, pd.DataFrame(rows)

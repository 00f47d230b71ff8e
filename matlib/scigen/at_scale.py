"""SCIGEN's pre-screen at scale: a million generated crystals, generated on the GPU while a pool or a
Dask cluster screens the previous chunk.

Crystals travel to the workers as compact arrays (atomic numbers, fractional coordinates, cells),
about 180 bytes a pickled MP-20-sized crystal against 1.4 kB as a pickled ``Structure`` (and 7.5 kB
as a live one: a million of them would fill 7.5 GB); each worker builds
its own ``Structure``s, screens them with :func:`matlib.scigen.screening.screening_table`'s rules and
sends back the flags and its own clock, so throughput per worker is measured where the work runs.
Only the flags of every crystal come back to the notebook; the crystals of the first chunk are kept
for a look and an extxyz file.
"""
from __future__ import annotations

import concurrent.futures as cf
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
from pymatgen.core import Lattice, Structure

from ..cluster import executor_workers
from ..crystal import CrystalBatch
from ..parallel import usable_cpus
from ..progress import progress
from .screening import screening_table

FLAGS = ("smact_valid", "occupation_ok", "struct_valid", "passes_screen")


@dataclass
class CrystalArrays:
    """Crystals as plain arrays: cheap to pickle, whatever the executor."""
    numbers: np.ndarray      # (atoms,) atomic numbers
    frac: np.ndarray         # (atoms, 3)
    lattice: np.ndarray      # (crystals, 3, 3), rows are the cell vectors
    num_atoms: np.ndarray    # (crystals,)

    @classmethod
    def from_batch(cls, batch: CrystalBatch) -> "CrystalArrays":
        batch = batch.to("cpu")
        return cls(batch.atom_types.numpy().astype(np.int16), batch.frac_coords.numpy().astype(np.float32),
                   batch.lattice.numpy().astype(np.float32), batch.num_atoms.numpy().astype(np.int32))

    def __len__(self) -> int:
        return len(self.num_atoms)

    def pieces(self, size: int) -> list["CrystalArrays"]:
        starts = np.concatenate([[0], np.cumsum(self.num_atoms)])
        out = []
        for first in range(0, len(self), size):
            last = min(first + size, len(self))
            a0, a1 = starts[first], starts[last]
            out.append(CrystalArrays(self.numbers[a0:a1], self.frac[a0:a1], self.lattice[first:last],
                                     self.num_atoms[first:last]))
        return out

    def to_structures(self) -> list[Structure | None]:
        """One ``Structure`` per crystal; None where the arrays do not make one (a non-finite or flat
        cell), so the screen counts it as failed instead of stopping."""
        out, start = [], 0
        for cell, n in zip(self.lattice.astype(np.float64), self.num_atoms.tolist()):
            frac = self.frac[start:start + n].astype(np.float64)
            numbers = self.numbers[start:start + n].tolist()
            start += n
            if not (np.isfinite(cell).all() and np.isfinite(frac).all()) or abs(np.linalg.det(cell)) < 1e-6:
                out.append(None)
                continue
            out.append(Structure(Lattice(cell), numbers, frac))
        return out


def screen_piece(piece: CrystalArrays) -> tuple[dict[str, np.ndarray], float]:
    """A worker's job: the three screens on each crystal of ``piece``, and the seconds it took."""
    started = time.perf_counter()
    table = screening_table(piece.to_structures(), progress_bar=False)
    flags = {key: table[key].to_numpy(bool) for key in FLAGS} | {"num_atoms": piece.num_atoms.copy()}
    return flags, time.perf_counter() - started


@dataclass
class ScaleScreen:
    """Every crystal's flags (one row each, in generation order) and the clocks of the run."""
    flags: pd.DataFrame
    first_chunk: CrystalBatch
    workers: int
    wall_seconds: float
    generation_seconds: float
    worker_seconds: float        # the workers' own screening time, summed

    @property
    def crystals(self) -> int:
        return len(self.flags)

    def throughput(self) -> dict[str, Any]:
        return {"crystals": self.crystals, "workers": self.workers, "wall_seconds": self.wall_seconds,
                "generation_seconds": self.generation_seconds, "worker_seconds": self.worker_seconds,
                "crystals_per_second": self.crystals / self.wall_seconds,
                "generated_per_second": self.crystals / self.generation_seconds,
                "crystals_per_second_per_worker": self.crystals / self.worker_seconds}

    def funnel_counts(self) -> list[tuple[str, int]]:
        f = self.flags
        return [("generated", len(f)), ("+ SMACT valid", int(f["smact_valid"].sum())),
                ("+ occupation < 1.7", int((f["smact_valid"] & f["occupation_ok"]).sum())),
                ("+ structure valid", int(f["passes_screen"].sum()))]


def screen_at_scale(generate: Callable[[int, int], CrystalBatch], total: int, *, chunk: int, executor: cf.Executor,
                    piece: int = 1000, max_pending_chunks: int = 3, progress_bar: bool = True) -> ScaleScreen:
    """Generate ``total`` crystals in chunks (``generate(index, n)`` -> a ``CrystalBatch`` of n) and screen
    each on ``executor`` while the next one is generated. At most ``max_pending_chunks`` chunks wait for
    the workers, which bounds memory when screening is slower than generation."""
    if total < 1 or chunk < 1 or piece < 1:
        raise ValueError(f"total, chunk and piece must be positive, not {total}, {chunk}, {piece}")
    started = time.perf_counter()
    pending: deque[list[tuple[int, Any]]] = deque()
    results: dict[int, dict[str, np.ndarray]] = {}
    clocks = {"generation": 0.0, "workers": 0.0}
    first_chunk = None
    bar = progress(total=total, desc="screening at scale", unit="crystal", disable=not progress_bar)

    def collect(futures: list[tuple[int, Any]]) -> None:
        for order, future in futures:
            flags, seconds = future.result()
            results[order] = flags
            clocks["workers"] += seconds
            bar.update(len(flags["passes_screen"]))

    try:
        for index, start in enumerate(range(0, total, chunk)):
            t = time.perf_counter()
            batch = generate(index, min(chunk, total - start))
            clocks["generation"] += time.perf_counter() - t
            first_chunk = batch.to("cpu") if first_chunk is None else first_chunk
            arrays = CrystalArrays.from_batch(batch)
            offset = len(results) + sum(len(f) for f in pending)
            pending.append([(offset + i, executor.submit(screen_piece, p))
                            for i, p in enumerate(arrays.pieces(piece))])
            while len(pending) > max_pending_chunks:
                collect(pending.popleft())
        while pending:
            collect(pending.popleft())
    finally:
        bar.close()
    ordered = [results[i] for i in sorted(results)]
    flags = pd.DataFrame({key: np.concatenate([r[key] for r in ordered]) for key in (*FLAGS, "num_atoms")})
    workers = executor_workers(executor) or usable_cpus()     # an executor of unknown size: a guess
    return ScaleScreen(flags, first_chunk, workers, time.perf_counter() - started, clocks["generation"],
                       clocks["workers"])


__all__ = ["CrystalArrays", "ScaleScreen", "screen_at_scale", "screen_piece"]

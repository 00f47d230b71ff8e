"""A split as a dataset: the CSV read (``load_table``), its CIFs parsed with counted skips
(``load_split``, cached as tensors), and every crystal a model may have learnt from."""
from __future__ import annotations

import io
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pymatgen.core import Structure

from ..crystal import CrystalBatch
from ..registry import DatasetSpec, get_spec
from .cache import read_cached, write_cached
from .errors import MalformedRowError
from .parse import parse_cifs
from .sources import locate, sha256_file

log = logging.getLogger(__name__)
CACHE_VERSION = 3


def load_table(dataset: str, split: str, path: str | Path | None = None, limit: int | None = None,
               own_file: bool = False) -> pd.DataFrame:
    """The split as a DataFrame (CIF strings unparsed): fast, for property statistics."""
    return _read_table(locate(dataset, split, path, own_file=own_file), limit)


def _read_table(file: Path, limit: int | None) -> pd.DataFrame:
    """The CSV with its CIF column; any read error names the file."""
    try:
        df = pd.read_csv(file, index_col=0, nrows=limit)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise MalformedRowError(f"{file} could not be read ({type(err).__name__}: {err}); it is truncated or "
                                f"damaged: delete it and fetch it again") from None
    if "cif" not in df.columns:
        raise MalformedRowError(f"{file} has no 'cif' column; columns are {list(df.columns)}")
    return df.reset_index(drop=True)


@dataclass
class CrystalDataset:
    """Parsed structures of one split, their property rows, and what was skipped and why."""

    name: str
    split: str
    source: Path
    structures: list[Structure]
    table: pd.DataFrame                 # one row per kept structure (CIF column dropped)
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "id", "reason"]))
    rows_read: int = 0

    @property
    def spec(self) -> DatasetSpec:
        return get_spec(self.name)

    def __len__(self) -> int:
        return len(self.structures)

    def batch(self, indices=None, dtype=torch.float32) -> CrystalBatch:
        chosen = self.structures if indices is None else [self.structures[i] for i in indices]
        return CrystalBatch.from_structures(chosen, dtype=dtype)

    def targets(self, column: str | None = None) -> torch.Tensor:
        column = column or self.spec.default_property
        if column not in self.table:
            raise KeyError(f"{self.name} has no property {column!r}; properties: {list(self.spec.properties)}")
        return torch.tensor(self.table[column].to_numpy(dtype=np.float64), dtype=torch.float32)

    def summary(self) -> dict:
        return {"dataset": self.name, "split": self.split, "rows_read": self.rows_read, "kept": len(self),
                "skipped": len(self.skipped), "source": str(self.source)}


def load_split(dataset: str, split: str, *, path: str | Path | None = None, limit: int | None = None,
               niggli: bool = True, cache: bool = True, strict: bool = False,
               progress_bar: bool = True, workers: int | None = None, own_file: bool = False) -> CrystalDataset:
    """Parse a split into pymatgen Structures (Niggli-reduced as CDVAE does), with a tensor cache.

    Bad rows are skipped and counted (``dataset.skipped`` says which and why); ``strict=True``
    raises on the first one instead. ``workers``: processes that parse a large split (default: all).
    ``own_file=True``: ``path`` is your own edited copy, used without the checksum (see ``locate``).
    """
    file = locate(dataset, split, path, own_file=own_file)
    key = None
    if cache:
        key = f"{dataset}-{split}-{sha256_file(file)[:16]}-n{limit or 'all'}-{'niggli' if niggli else 'raw'}-v{CACHE_VERSION}"
        cached = _read_cache(key, dataset, split, file)
        if cached is not None:
            return cached
    df = _read_table(file, limit)
    id_col = get_spec(dataset).id_column
    structures, kept, skipped = [], [], []
    outcomes = parse_cifs(df["cif"].tolist(), niggli=niggli, progress_bar=progress_bar,
                          desc=f"parsing {dataset}/{split}", workers=workers)
    max_atoms = get_spec(dataset).max_atoms
    for row, outcome in enumerate(outcomes):
        if isinstance(outcome, Structure) and len(outcome) > max_atoms:
            outcome = f"{len(outcome)} atoms, more than {dataset}'s {max_atoms}"   # models size themselves on it
        if isinstance(outcome, Structure):
            structures.append(outcome)
            kept.append(row)
            continue
        ident = df[id_col].iloc[row] if id_col in df else row
        if strict:
            raise MalformedRowError(f"{file}, row {row} ({ident}): {outcome}")
        skipped.append({"row": row, "id": ident, "reason": outcome})
    skipped_df = pd.DataFrame(skipped, columns=["row", "id", "reason"])
    if len(skipped_df):
        log.warning("%s/%s: skipped %d of %d rows (first: row %s, %s)", dataset, split, len(skipped_df), len(df),
                    skipped[0]["row"], skipped[0]["reason"])
    table = df.drop(columns=["cif"]).iloc[kept].reset_index(drop=True)
    ds = CrystalDataset(dataset, split, file, structures, table, skipped_df, rows_read=len(df))
    if cache and structures:
        _write_cache(key, ds)
    return ds


def training_crystals(dataset: str, splits, *, path: str | Path | None = None, limit: int | None = None,
                      loaded: dict[str, CrystalDataset] | None = None) -> list[Structure]:
    """Every crystal a model may have learnt from, for novelty: each split in ``splits`` once (None
    entries skipped). A notebook that trains on ``train`` from a base trained on ``val`` names both."""
    structures: list[Structure] = []
    for split in dict.fromkeys(s for s in splits if s):
        ds = (loaded or {}).get(split) or load_split(dataset, split, path=path, limit=limit, progress_bar=False)
        structures += ds.structures
    return structures


def _write_cache(key: str, ds: CrystalDataset) -> None:
    b = CrystalBatch.from_structures(ds.structures, dtype=torch.float64, wrap=False)
    write_cached(key, {"atom_types": b.atom_types, "frac_coords": b.frac_coords, "lattice": b.lattice,
                       "num_atoms": b.num_atoms},
                 {"table": ds.table.to_json(orient="split"), "skipped": ds.skipped.to_json(orient="split"),
                  "rows_read": ds.rows_read})


def _read_cache(key: str, dataset: str, split: str, source: Path) -> CrystalDataset | None:
    cached = read_cached(key)
    if cached is None:
        return None
    t, info = cached
    try:
        batch = CrystalBatch(t["atom_types"], t["frac_coords"], t["lattice"], t["num_atoms"])
        structures = batch.to_structures()
        table = pd.read_json(io.StringIO(info["table"]), orient="split")
        skipped = pd.read_json(io.StringIO(info["skipped"]), orient="split")
    except Exception as err:  # a cache of another layout is rebuilt, never trusted
        log.warning("ignoring unreadable cache %s (%s); it will be rebuilt", key, err)
        return None
    if len(table) != len(structures):
        return None
    return CrystalDataset(dataset, split, source, structures, table, skipped, rows_read=info["rows_read"])

"""Finding, verifying and loading the benchmark CSVs.

Lookup order for ``locate(dataset, split)``:
  1. an explicit ``path`` (a file, or a folder searched like 2); a file is verified like every other
     copy unless ``own_file=True`` says it is your own edit,
  2. ``$MATLIB_DATA/<dataset>/<split>.csv[.gz]``,
  3. the download cache ``<data>/downloads/<dataset>/<split>.csv[.gz]``,
  4. a download from the upstream URL (or the mirror in ``$MATLIB_DATA_URL``), kept only if its
     checksum matches upstream's,
  5. otherwise a :class:`DataNotFoundError` saying what was tried and how to get the file.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import io
import json
import logging
import math
import os
import re
import threading
import time
import urllib.error
import urllib.request
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pymatgen.core import Element, Structure
from safetensors import safe_open
from safetensors.torch import save_file

from .crystal import CrystalBatch, wrap_frac
from .parallel import parallel_map, process_pool, usable_cpus
from .paths import data_dir, ordinary_permissions
from .registry import DatasetSpec, get_spec

log = logging.getLogger(__name__)
CACHE_VERSION = 3


class DataNotFoundError(FileNotFoundError):
    pass


class ChecksumError(ValueError):
    pass


class MalformedRowError(ValueError):
    pass


# ---- checksums ----------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_blob_id(data: bytes) -> str:
    """What `git hash-object` prints for a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _read_bytes(path: Path) -> bytes:
    raw = Path(path).read_bytes()
    return gzip.decompress(raw) if str(path).endswith(".gz") else raw


def verify(path: Path, dataset: str, split: str) -> str:
    """Return the file's sha256 if it is a known version of dataset/split, else raise ChecksumError."""
    spec = get_spec(dataset).splits[split]
    digest = sha256_file(path)
    if digest in spec.sha256:
        return digest
    try:
        if git_blob_id(_read_bytes(path)) == spec.upstream_blob:
            return digest
    except (OSError, EOFError, zlib.error):  # a truncated or damaged .gz is just another mismatch
        pass
    raise ChecksumError(
        f"{path} does not match any known version of {dataset}/{split} (sha256 {digest}, expected one of "
        f"{list(spec.sha256) or '-'} or upstream git blob {spec.upstream_blob}). The file is corrupt or a "
        f"different dataset: delete it and fetch it again, or pass path=<the file>, own_file=True to use "
        f"your own edited copy.")


# ---- lookup -------------------------------------------------------------------------------

def _candidates(folder: Path, dataset: str, split: str) -> list[Path]:
    return [folder / dataset / f"{split}.csv.gz", folder / dataset / f"{split}.csv"]


def _split_spec(dataset: str, split: str):
    spec = get_spec(dataset)
    if split not in spec.splits:
        raise DataNotFoundError(f"{dataset} has no split {split!r}; splits are {sorted(spec.splits)}")
    return spec


def downloads_dir() -> Path:
    return data_dir() / "downloads"


def locate(dataset: str, split: str, path: str | Path | None = None, download: bool = True,
           timeout: float = 30.0, own_file: bool = False) -> Path:
    """Find (or fetch) the CSV of one split; see the module docstring for the order.

    ``own_file=True`` (with ``path`` naming a file) skips the checksum: for a copy you edited on purpose."""
    spec = _split_spec(dataset, split)
    tried: list[str] = []
    folders = []
    if own_file and (path is None or not Path(path).is_file()):
        raise DataNotFoundError(f"own_file=True needs path= naming your file; {path!r} is not a file")
    if path is not None:
        path = Path(path)
        if path.is_file():
            if not own_file:
                verify(path, dataset, split)
            return path
        if not path.is_dir():
            raise DataNotFoundError(f"path={str(path)!r} is neither a file nor a folder")
        found = [c for c in _candidates(path, dataset, split) if c.is_file()]
        if not found:          # an explicit folder is the answer, not one place among others
            raise DataNotFoundError(f"path={str(path)!r} holds no {dataset}/{split}.csv[.gz]; put the file there "
                                    f"or pass path=None to search $MATLIB_DATA and the download cache")
        verify(found[0], dataset, split)
        return found[0]
    env = os.environ.get("MATLIB_DATA")
    if env:
        folders.append(("$MATLIB_DATA", Path(env)))
    else:
        tried.append("$MATLIB_DATA (not set)")
    folders.append(("download cache", downloads_dir()))
    for label, folder in folders:
        for candidate in _candidates(folder, dataset, split):
            if candidate.is_file():
                verify(candidate, dataset, split)
                return candidate
        tried.append(f"{label}: {folder}/{dataset}/{split}.csv[.gz]")
    url = source_url(dataset, split)
    if download:
        try:
            return fetch(dataset, split, url, timeout=timeout)
        except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as err:
            tried.append(f"download {url}: {type(err).__name__}: {err}")
    raise DataNotFoundError(
        f"{dataset}/{split}.csv not found. Tried:\n  - " + "\n  - ".join(tried) +
        f"\nSet MATLIB_DATA to the folder holding <dataset>/<split>.csv[.gz] (in this repo: "
        f"MATLIB_DATA=../shared/data), or download {url} into {downloads_dir() / dataset}/.")


def source_url(dataset: str, split: str) -> str:
    """Where a split is downloaded from: upstream, or a mirror named by $MATLIB_DATA_URL
    (a template such as ``https://mirror.example/{dataset}/{split}.csv``); checked against upstream either way."""
    template = os.environ.get("MATLIB_DATA_URL")
    if not template:
        return get_spec(dataset).url(split)
    if "{dataset}" not in template or "{split}" not in template:
        raise DataNotFoundError(f"MATLIB_DATA_URL={template!r} must contain {{dataset}} and {{split}}, e.g. "
                                "https://mirror.example/{dataset}/{split}.csv")
    return template.replace("{dataset}", dataset).replace("{split}", split)


MAX_DOWNLOAD_BYTES = 256 * 2**20      # the largest split (MPTS-52 train) is far smaller
DOWNLOAD_DEADLINE_S = 600.0           # for the whole file, not per read: a trickling server ends too


def _download(url: str, timeout: float, deadline_s: float = DOWNLOAD_DEADLINE_S,
              max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
    deadline = time.monotonic() + deadline_s
    chunks, size = [], 0
    with urllib.request.urlopen(url, timeout=timeout) as response:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"download of {url} took more than {deadline_s:.0f} s: stopped")
            chunk = response.read(1 << 16)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_bytes:
                raise ChecksumError(f"download of {url} exceeded {max_bytes:,} bytes: not a benchmark split, stopped")
            chunks.append(chunk)


def fetch(dataset: str, split: str, url: str, timeout: float = 30.0) -> Path:
    """Download one split into the cache; keep it only if it is a known version: upstream's git blob
    id, or one of the registry's sha256 (a mirror of the series' own copies, as verify() accepts)."""
    target = downloads_dir() / dataset / f"{split}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s", url)
    data = _download(url, timeout)
    spec = get_spec(dataset).splits[split]
    expected, got = spec.upstream_blob, git_blob_id(data)
    if got != expected and hashlib.sha256(data).hexdigest() not in spec.sha256:
        raise ChecksumError(f"download of {url} has git blob id {got}, expected {expected}: refused, "
                            f"nothing was written to {target}")
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def resolve_train_split(names: str | list[str] | tuple[str, ...], requested: str = "auto", *,
                        path: str | Path | None = None, download: bool = True, timeout: float = 10.0) -> str:
    """The split to train on. ``"auto"``: ``train`` when every named dataset's train split is found or
    downloads and verifies, else ``val``, with a one-line notice of why and what it costs. Any other
    value is returned as given (after checking the datasets have it)."""
    names = [names] if isinstance(names, str) else list(names)
    if requested != "auto":
        for name in names:
            _split_spec(name, requested)
        return requested
    for name in names:
        try:
            locate(name, "train", path, download=download, timeout=timeout)
        except (DataNotFoundError, ChecksumError, MalformedRowError, OSError, http.client.HTTPException) as err:
            spec = get_spec(name).splits
            val, train = spec["val"].rows, spec["train"].rows
            cost = (f"{val:,} crystals instead of {train:,} ({train / val:.1f}x fewer)" if val and train
                    else "a smaller training set")
            reason = str(err).splitlines()[0].removesuffix(" Tried:").rstrip(".")
            print(f"train_split='auto': {name}'s train split is not available ({reason}); training on val: {cost}, "
                  f"so expect lower validity, coverage and success than the papers, which trained on train.")
            return "val"
    return "train"


# ---- loading ------------------------------------------------------------------------------

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


# Limits no real crystal of these benchmarks comes near (their longest cell edge is 46.7 Å, their
# densest rows hold far more than 2 Å³ per atom, and CDVAE calls atoms closer than 0.5 Å invalid);
# checked before any reduction, so an absurd row costs microseconds, not a Niggli reduction of a
# 1e5 Å cell (> 40 s, 4 GB).
MAX_CELL_LENGTH = 500.0        # Å
MIN_VOLUME_PER_ATOM = 2.0      # Å³ (diamond, the densest element, has 5.7)
MIN_DISTANCE = 0.5             # Å
_CELL_FIELD = re.compile(r"_cell_(length_[abc]|angle_alpha|angle_beta|angle_gamma)[ \t]+(\S+)")


def _cell_parameters(text: str) -> dict[str, float]:
    """The CIF's cell lengths and angles, checked before pymatgen builds anything from them."""
    fields = dict(_CELL_FIELD.findall(text))
    cell = {}
    for key in ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma"):
        raw = fields.get(key)
        if raw is None:
            raise ValueError(f"not a CIF cell (no _cell_{key})")
        try:
            cell[key] = float(re.sub(r"\(\d+\)$", "", raw))          # "4.123(2)": a value and its uncertainty
        except ValueError:
            raise ValueError(f"_cell_{key} is not a number: {raw!r}") from None
        if not math.isfinite(cell[key]):
            raise ValueError(f"_cell_{key} is {raw}")
    for key in ("length_a", "length_b", "length_c"):
        if not 0 < cell[key] <= MAX_CELL_LENGTH:
            raise ValueError(f"_cell_{key} = {cell[key]:g} Å lies outside (0, {MAX_CELL_LENGTH:g}] Å")
    for key in ("angle_alpha", "angle_beta", "angle_gamma"):
        if not 0 < cell[key] < 180:
            raise ValueError(f"_cell_{key} = {cell[key]:g}° lies outside (0, 180)°")
    return cell


def _check_geometry(structure: Structure) -> None:
    matrix = structure.lattice.matrix
    if not np.isfinite(matrix).all() or not np.isfinite(structure.frac_coords).all():
        raise ValueError("non-finite lattice or coordinates")
    volume_per_atom = structure.volume / len(structure)
    if not volume_per_atom >= MIN_VOLUME_PER_ATOM:
        raise ValueError(f"{volume_per_atom:.3g} Å³ per atom, below {MIN_VOLUME_PER_ATOM:g} (a degenerate cell)")
    if len(structure) > 1:
        distances = structure.distance_matrix
        closest = float(distances[np.triu_indices(len(structure), 1)].min())
        if closest < MIN_DISTANCE:
            raise ValueError(f"atoms {closest:.3g} Å apart, below {MIN_DISTANCE:g} Å")


def parse_cif(text: str, niggli: bool = True) -> Structure:
    """One CIF string to an ordered Structure of known elements (raises ValueError otherwise)."""
    if not isinstance(text, str) or "_cell_length_a" not in text:
        raise ValueError("not a CIF (no _cell_length_a)")
    _cell_parameters(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # kept: pymatgen often says why in a warning, then fails vaguely
        try:
            structure = Structure.from_str(text, fmt="cif")
        except Exception as err:  # pymatgen raises many types for bad CIFs
            said = list(dict.fromkeys(str(w.message).strip() for w in caught))[:2]
            raise ValueError(f"unparsable CIF: {type(err).__name__}: {err}"
                             + (f" (pymatgen: {'; '.join(said)})" if said else "")) from None
    for species in structure.composition:
        if not isinstance(species, Element):
            raise ValueError(f"unknown element {str(species)!r}")
    if not structure.is_ordered:
        raise ValueError("disordered structure (partial occupancies)")
    if len(structure) == 0:
        raise ValueError("no atoms")
    _check_geometry(structure)
    if niggli:
        structure = structure.get_reduced_structure()
    # canonical cell: every coordinate in [0, 1), as the tensors and the graph code assume
    return Structure(structure.lattice, structure.species, wrap_frac(structure.frac_coords))


def _parse_or_reason(text: str, niggli: bool) -> Structure | str:
    # module level, so a process pool can pickle it; a bad row comes back as its reason
    try:
        return parse_cif(text, niggli=niggli)
    except ValueError as err:
        return str(err)


# below this many rows (or with two CPUs) a process pool's start costs more than it saves
PARALLEL_PARSE_ROWS = 2000


def parse_cifs(texts: list[str], *, niggli: bool = True, progress_bar: bool = True,
               desc: str = "parsing CIFs", workers: int | None = None) -> list[Structure | str]:
    """``parse_cif`` of each text, in order, a reason string where one fails; on a process pool
    of ``workers`` (default: every usable CPU) when there are many (MP-20's 9,047 CIFs take ~35 s
    on one CPU)."""
    parse = functools.partial(_parse_or_reason, niggli=niggli)
    workers = workers or usable_cpus()
    if len(texts) < PARALLEL_PARSE_ROWS or workers < 3:
        return parallel_map(parse, texts, desc=desc, progress_bar=progress_bar)
    with process_pool(workers) as pool:
        return parallel_map(parse, texts, executor=pool, desc=desc, progress_bar=progress_bar)


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


# ---- processed-tensor cache ---------------------------------------------------------------

def cache_dir() -> Path:
    return data_dir() / "cache"


def _content_digest(tensors: dict[str, torch.Tensor], meta_text: str) -> str:
    h = hashlib.sha256(meta_text.encode())
    for name in sorted(tensors):
        value = tensors[name].detach().cpu().contiguous()
        h.update(name.encode() + str(value.dtype).encode() + str(tuple(value.shape)).encode())
        h.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return h.hexdigest()


def write_cached(key: str, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Tensors and JSON metadata into the cache under ``key``: one file (tensors, metadata and a
    digest of both), published by one rename, so a reader never pairs two writers' halves."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    meta_text = json.dumps(meta)
    # written beside, then renamed: notebooks (or threads) side by side may read while another one writes
    part = folder / f"{key}.safetensors.{os.getpid()}.{threading.get_ident()}.part"
    save_file(tensors, str(part), metadata={"meta": meta_text, "digest": _content_digest(tensors, meta_text)})
    ordinary_permissions(part)
    os.replace(part, folder / f"{key}.safetensors")


def read_cached(key: str) -> tuple[dict[str, torch.Tensor], dict] | None:
    """What ``write_cached`` stored under ``key``, or None when it is absent, unreadable or changed
    since (its digest no longer matches): a cache is rebuilt, never trusted."""
    path = cache_dir() / f"{key}.safetensors"
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            stored = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        meta_text = stored["meta"]
        if _content_digest(tensors, meta_text) != stored["digest"]:
            raise ValueError("content digest mismatch")
        return tensors, json.loads(meta_text)
    except Exception as err:  # a broken or edited cache is rebuilt, never trusted
        log.warning("ignoring unreadable cache %s (%s); it will be rebuilt", path, err)
        return None


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


def clear_cache() -> int:
    removed = 0
    for f in cache_dir().glob("*"):
        f.unlink()
        removed += 1
    return removed


"""CHGNet labels of a dataset split, computed once and cached with checksums.

A label file has one row per crystal of the split (by ``material_id``): CHGNet's energy of the
dataset's crystal (``e_initial``) and after relaxing it (``e_relaxed``, eV/atom; with
``relax_steps=0`` the dataset's own DFT-relaxed geometry is kept), and the magnetic density of
that crystal (total |site moment| per volume, μB/Å³). Bulk moduli (GPa, Birch–Murnaghan over ±5 %
volume) get their own file, for a split's first N crystals. The elemental prototypes (fcc, bcc,
hcp, sc, diamond) of every element get one too: the hull needs an elemental entry per element.

Files live in ``<data>/oracle/`` (committed: they are small and cost compute to make), each with a
JSON manifest: the settings, CHGNet's version, the sha256 of the dataset file they were computed
from and of the label file itself. Loading refuses a file whose checksum does not match. Build:

    python -m matlib.oracle.labels --elements --dataset mp_20 --split val --split test \
        --relax-steps 0 --bulk-modulus mp_20/val --bulk-modulus-limit 1000 --workers 14 --device cuda
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from pymatgen.core import Element

from .. import paths
from ..datasets import load_split
from ..datasets.sources import locate, sha256_file
from ..results import versions
from .batched import predict, relax
from .eos import bulk_moduli
from .hull import lowest_per_element, prototype_energies

FORMAT = "matlib-oracle-labels/2"         # /2: a gzipped JSON table (/1 was CSV)
SUFFIX = ".table.json.gz"
RELAX = dict(steps=150, fmax=0.05)          # dataset crystals start near a DFT minimum
EOS = dict(n_volumes=7, span=0.05)
DIGITS = {"e_initial": 5, "e_relaxed": 5, "magmom_per_volume": 6, "bulk_modulus_gpa": 2, "b1": 3,
          "volume_ratio": 5}


class LabelsError(RuntimeError):
    """Labels are missing or do not match their manifest."""


def label_dir(root: Path | None = None) -> Path:
    return Path(root) if root else paths.data_dir() / "oracle"


def _stem(dataset: str, split: str) -> str:
    return f"{dataset}__{split}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(frame: pd.DataFrame, stem: str, manifest: dict, root: Path | None) -> Path:
    """Write ``<stem>.table.json.gz`` ({"columns", "rows"}; NaN as null; byte-reproducible: no time
    stamp in the gzip header) and its manifest ``<stem>.json``."""
    numeric = frame.select_dtypes("number")
    if not np.isfinite(numeric.to_numpy(dtype=float)[~numeric.isna().to_numpy()]).all():
        raise ValueError("labels hold infinite values; failed rows must be NaN")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        gz.write(frame.round(DIGITS).to_json(orient="split", index=False).encode())
    folder = label_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}{SUFFIX}"
    path.write_bytes(buffer.getvalue())
    manifest = {"format": FORMAT, **manifest, "rows": int(len(frame)), "sha256": _sha256(buffer.getvalue())}
    (folder / f"{stem}.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path


def _read(stem: str, root: Path | None, how_to_build: str) -> tuple[pd.DataFrame, dict]:
    folder = label_dir(root)
    path, manifest_path = folder / f"{stem}{SUFFIX}", folder / f"{stem}.json"
    if not path.exists() or not manifest_path.exists():
        raise LabelsError(f"no CHGNet labels at {path}; build them with `{how_to_build}` (minutes on a GPU)")
    manifest = json.loads(manifest_path.read_text())
    data = path.read_bytes()
    if manifest.get("format") != FORMAT or _sha256(data) != manifest.get("sha256"):
        raise LabelsError(f"{path} does not match its manifest (sha256 {_sha256(data)[:12]}…, manifest "
                          f"{str(manifest.get('sha256'))[:12]}…); rebuild it with `{how_to_build}`")
    table = json.loads(gzip.decompress(data))
    return pd.DataFrame(table["data"], columns=table["columns"]), manifest


def compute_labels(structures: Sequence, ids: Sequence[str], *, relax_steps: int = RELAX["steps"],
                   device: str | None = None, executor=None, batch_size: int = 512) -> pd.DataFrame:
    """Relax each crystal with CHGNet, then label the relaxed crystal (see the module docstring).

    ``relax_steps=0`` labels the dataset's own (DFT-relaxed) geometry instead: a few meV/atom above
    CHGNet's minimum, at a tenth of the cost. Failed rows keep NaN labels and a ``reason``.
    """
    started = time.perf_counter()
    if relax_steps:
        finals, table = relax(structures, steps=relax_steps, fmax=RELAX["fmax"], device=device, executor=executor,
                              batch_size=batch_size)
        magmoms = None
    else:
        props = predict(structures, device=device, executor=executor, batch_size=batch_size)
        ok = props["ok"].to_numpy()
        finals = [s if good else None for s, good in zip(structures, ok)]
        table = pd.DataFrame({"e_initial": props["energy_per_atom"], "e_relaxed": props["energy_per_atom"],
                              "volume_ratio": np.where(ok, 1.0, np.nan), "steps_taken": 0, "converged": ok,
                              "failed": ~ok, "reason": np.where(ok, "", "CHGNet failed or returned non-finite values")})
        magmoms = props["magmom_per_volume"].to_numpy()
    print(f"  energies of {len(structures)} crystals: {time.perf_counter() - started:.0f} s", flush=True)
    frame = pd.DataFrame({"material_id": list(ids), "formula": [s.composition.formula.replace(" ", "")
                                                                for s in structures]})
    frame = frame.join(table[["e_initial", "e_relaxed", "volume_ratio", "steps_taken", "converged", "failed",
                              "reason"]])
    ok = [i for i, f in enumerate(finals) if f is not None]
    frame["magmom_per_volume"] = np.nan
    if magmoms is not None:
        frame["magmom_per_volume"] = magmoms
    elif ok:
        props = predict([finals[i] for i in ok], device=device, executor=executor, batch_size=batch_size)
        frame.loc[ok, "magmom_per_volume"] = props["magmom_per_volume"].to_numpy()
    return frame


def build_labels(dataset: str, split: str, *, relax_steps: int = RELAX["steps"], limit: int | None = None,
                 device: str | None = None, executor=None, root: Path | None = None, batch_size: int = 512) -> Path:
    """Compute and save the labels of one split (``limit``: its first N crystals, for a try)."""
    data = load_split(dataset, split, limit=limit)
    started = time.perf_counter()
    ids = data.table[data.spec.id_column].astype(str).tolist()
    frame = compute_labels(data.structures, ids, relax_steps=relax_steps, device=device, executor=executor,
                           batch_size=batch_size)
    manifest = {"dataset": dataset, "split": split, "limit": limit,
                "relax": {**RELAX, "steps": relax_steps} if relax_steps else None,
"source_sha256": sha256_file(locate(dataset, split)),
                "seconds": round(time.perf_counter() - started, 1), "device": str(device), "versions": versions()}
    return _write(frame, _stem(dataset, split), manifest, root)


def build_bulk_moduli(dataset: str, split: str, *, limit: int | None = None, device: str | None = None,
                      executor=None, root: Path | None = None, batch_size: int = 512) -> Path:
    """Bulk moduli of a split's first ``limit`` crystals (the splits are shuffled, so a random sample)
    at their own geometry, into ``<dataset>__<split>__bulk_modulus.table.json.gz``: 7 CHGNet energies each."""
    data = load_split(dataset, split, limit=limit)
    started = time.perf_counter()
    fits = bulk_moduli(data.structures, device=device, executor=executor, batch_size=batch_size, **EOS)
    frame = pd.DataFrame({"material_id": data.table[data.spec.id_column].astype(str).tolist()})
    frame = frame.join(fits[["bulk_modulus_gpa", "b1", "ok", "reason"]])
    manifest = {"dataset": dataset, "split": split, "limit": limit, "eos": EOS, "geometry": "the dataset's",
                "source_sha256": sha256_file(locate(dataset, split)),
                "seconds": round(time.perf_counter() - started, 1), "device": str(device), "versions": versions()}
    return _write(frame, f"{_stem(dataset, split)}__bulk_modulus", manifest, root)


def load_bulk_moduli(dataset: str, split: str, root: Path | None = None) -> pd.DataFrame:
    frame, manifest = _read(f"{_stem(dataset, split)}__bulk_modulus", root,
                            f"python -m matlib.oracle.labels --bulk-modulus {dataset}/{split}")
    frame.attrs["manifest"] = manifest
    return frame


def load_labels(dataset: str, split: str, root: Path | None = None) -> pd.DataFrame:
    """The cached labels of a split, checked against their manifest (``LabelsError`` if absent or changed)."""
    frame, manifest = _read(_stem(dataset, split), root,
                            f"python -m matlib.oracle.labels --dataset {dataset} --split {split}")
    frame.attrs["manifest"] = manifest
    return frame


def build_elements(elements: Sequence[str] | None = None, device: str | None = None, executor=None,
                   root: Path | None = None) -> Path:
    """Relaxed CHGNet energies of every prototype of every element (default: Z ≤ 94, CHGNet's range)."""
    elements = list(elements or [el.symbol for el in Element if el.Z <= 94])
    started = time.perf_counter()
    frame = prototype_energies(elements, steps=300, fmax=0.05, device=device, executor=executor, batch_size=512)
    frame = frame[["element", "prototype", "e_relaxed", "volume_ratio", "steps_taken", "converged", "failed", "reason"]]
    manifest = {"elements": len(elements), "relax": {"steps": 300, "fmax": 0.05},
                "seconds": round(time.perf_counter() - started, 1), "device": str(device), "versions": versions()}
    return _write(frame, "elements", manifest, root)


def elemental_energies(root: Path | None = None) -> dict[str, float]:
    """{element: lowest relaxed prototype energy per atom} from the cached elements file."""
    frame, _ = _read("elements", root, "python -m matlib.oracle.labels --elements")
    return {el: energy for el, (energy, _) in lowest_per_element(frame).items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", action="append", default=[], help="repeatable")
    parser.add_argument("--split", action="append", default=[], help="repeatable")
    parser.add_argument("--bulk-modulus", action="append", default=[], metavar="DATASET/SPLIT",
                        help="bulk moduli of the first --bulk-modulus-limit crystals of these, e.g. mp_20/val")
    parser.add_argument("--bulk-modulus-limit", type=int, default=None)
    parser.add_argument("--elements", action="store_true", help="also relax the elemental prototypes")
    parser.add_argument("--relax-steps", type=int, default=RELAX["steps"],
                        help="FIRE steps per crystal; 0 labels the dataset's own geometry")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--workers", type=int, default=0, help="processes building crystal graphs (0: none)")
    parser.add_argument("--batch-size", type=int, default=512, help="crystals per CHGNet call (CPU: 64)")
    parser.add_argument("--root", type=Path, default=None, help="where to write (default <data>/oracle)")
    args = parser.parse_args(argv)
    from ..parallel import process_pool
    executor = process_pool(args.workers) if args.workers else None
    try:
        if args.elements:
            print("elements ->", build_elements(device=args.device, executor=executor, root=args.root), flush=True)
        for dataset in args.dataset:
            for split in args.split:
                path = build_labels(dataset, split, relax_steps=args.relax_steps, limit=args.limit, device=args.device,
                                    executor=executor, root=args.root, batch_size=args.batch_size)
                print(f"{dataset}/{split} ->", path, flush=True)
        for item in args.bulk_modulus:
            dataset, split = item.split("/")
            path = build_bulk_moduli(dataset, split, limit=args.bulk_modulus_limit, device=args.device,
                                     executor=executor, root=args.root, batch_size=args.batch_size)
            print(f"{item} bulk moduli ->", path, flush=True)
    finally:
        if executor is not None:
            executor.shutdown()


if __name__ == "__main__":
    main()

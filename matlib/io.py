"""Reading and writing crystals: CIF, multi-frame extxyz, a zip of CIFs (MatterGen's layout)."""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Mapping, Sequence

import ase.io
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.cif import CifWriter

from .datasets import parse_cif


def _name(structure: Structure, index: int) -> str:
    return f"{index:05d}_{structure.composition.reduced_formula}"


def write_cif(structure: Structure, path: str | Path, symprec: float | None = None) -> Path:
    """One structure to a CIF file (P1 unless `symprec` asks for symmetry finding)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    CifWriter(structure, symprec=symprec).write_file(str(path))
    return path


def write_cif_zip(structures: Sequence[Structure], path: str | Path, names: Sequence[str] | None = None) -> Path:
    """All structures as CIFs in one zip, e.g. `generated_crystals_cif.zip`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(names) if names is not None else [_name(s, i) for i, s in enumerate(structures)]
    if len(names) != len(structures) or len(set(names)) != len(names):
        raise ValueError("need one unique name per structure")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, s in zip(names, structures):
            zf.writestr(f"{name}.cif", str(CifWriter(s)))
    return path


def write_extxyz(structures: Sequence[Structure], path: str | Path,
                 info: Sequence[Mapping] | None = None) -> Path:
    """All structures as frames of one extxyz file; `info` adds per-frame values (e.g. properties)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = []
    for i, s in enumerate(structures):
        atoms = AseAtomsAdaptor.get_atoms(s)
        if info is not None:
            atoms.info.update({k: v for k, v in info[i].items() if v is not None})
        frames.append(atoms)
    ase.io.write(str(path), frames, format="extxyz")
    return path


def read_extxyz(path: str | Path) -> list[Structure]:
    return read_extxyz_frames(path)[0]


def read_extxyz_frames(path: str | Path, limit: int | None = None) -> tuple[list[Structure], list[dict]]:
    """Structures and their per-frame info (`write_extxyz`'s `info`). With `limit`, at most that many
    frames, spread evenly over the file, so a file written target by target is sampled across targets."""
    index = ":"
    if limit:
        frames = Path(path).read_text().count("Lattice=")
        index = f"::{max(1, -(-frames // limit))}"
    atoms = ase.io.read(str(path), index=index, format="extxyz")[:limit]
    return [AseAtomsAdaptor.get_structure(a) for a in atoms], [dict(a.info) for a in atoms]


def read_structures(path: str | Path) -> list[Structure]:
    """Structures from an .extxyz file, a .cif file, a zip of CIFs or a folder of CIFs."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        return [read_cif(p) for p in sorted(path.glob("*.cif"))]
    suffix = path.suffix.lower()
    if suffix in {".extxyz", ".xyz"}:
        return read_extxyz(path)
    if suffix == ".cif":
        return [read_cif(path)]
    if suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = sorted(n for n in zf.namelist() if n.lower().endswith(".cif"))
            return [_parse_named(zf.read(n).decode(), f"{path}:{n}") for n in names]
    raise ValueError(f"{path}: unknown format {suffix!r}; use .extxyz, .cif, .zip or a folder of CIFs")


def read_cif(path: str | Path) -> Structure:
    return _parse_named(Path(path).read_text(), str(path))


def _parse_named(text: str, label: str) -> Structure:
    try:
        return parse_cif(text, niggli=False)
    except ValueError as err:
        raise ValueError(f"{label}: {err}") from None


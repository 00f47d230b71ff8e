"""CIF strings to pymatgen Structures: checked cells and geometry first, a reason string for each
row that is not a crystal (the dataset counts them as skipped)."""
from __future__ import annotations

import functools
import math
import re
import warnings

import numpy as np
from pymatgen.core import Element, Structure

from ..crystal import wrap_frac
from ..parallel import parallel_map, process_pool, usable_cpus


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

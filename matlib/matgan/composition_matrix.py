"""MatGAN's composition representation: an 85 × 8 binary matrix (element × atom count).

Row e is one of 85 elements (H..Pu without the noble gases He, Ne, Ar, Kr, Rn and Po, At, Fr, Ra,
as MatGAN's periodic table); column j set means "j + 1 atoms of that element in the reduced formula";
an absent element is an all-zero row. What it cannot hold: elements outside the 85, more than 8
atoms of one element in the reduced formula, fractional occupancies, and any structure at all.
"""
from __future__ import annotations

import warnings
from typing import Iterable, Sequence

import numpy as np
import torch
from pymatgen.core import Composition, Element

EXCLUDED_Z = {2, 10, 18, 36, 84, 85, 86, 87, 88}
ELEMENTS: tuple[str, ...] = tuple(Element.from_Z(z).symbol for z in range(1, 95) if z not in EXCLUDED_Z)
ROW = {symbol: i for i, symbol in enumerate(ELEMENTS)}
MAX_COUNT = 8
SHAPE = (len(ELEMENTS), MAX_COUNT)


class NotRepresentable(ValueError):
    pass


def _touch_electronegativities() -> None:
    """pymatgen orders a formula's elements by electronegativity and warns, once per element, for
    those without one (He, Ne, Ar, ...): expected here (they sort last), so spend those warnings at
    import, quietly, instead of inside a student's cell."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No Pauling electronegativity", category=UserWarning)
        for element in Element:
            element.X


_touch_electronegativities()


def reduced_counts(formula: str | Composition) -> dict[str, int]:
    """Integer reduced formula, e.g. 'Ba2Ti2O6' -> {'Ba': 1, 'Ti': 1, 'O': 3}."""
    comp = formula if isinstance(formula, Composition) else Composition(formula)
    reduced, _ = comp.get_integer_formula_and_factor()
    return {str(el): int(round(n)) for el, n in Composition(reduced).items()}


def encode(formula: str | Composition) -> np.ndarray:
    counts = reduced_counts(formula)
    matrix = np.zeros(SHAPE, dtype=np.float32)
    for symbol, n in counts.items():
        if symbol not in ROW:
            raise NotRepresentable(f"{formula}: element {symbol} is not among MatGAN's 85")
        if not 1 <= n <= MAX_COUNT:
            raise NotRepresentable(f"{formula}: {n} atoms of {symbol} (at most {MAX_COUNT} per element)")
        matrix[ROW[symbol], n - 1] = 1.0
    return matrix


def encode_many(formulas: Iterable[str]) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """Encode what can be encoded; return (matrices, kept formulas, [(formula, reason) skipped])."""
    matrices, kept, skipped = [], [], []
    for f in formulas:
        try:
            matrices.append(encode(f))
            kept.append(f)
        except (NotRepresentable, ValueError) as err:
            skipped.append((f, str(err)))
    stacked = np.stack(matrices) if matrices else np.zeros((0, *SHAPE), np.float32)
    return stacked, kept, skipped


def decode(matrices: np.ndarray | torch.Tensor, threshold: float = 0.2, min_elements: int = 2,
           max_elements: int = 8) -> list[str | None]:
    """Matrix (or generator output in [0, 1]) -> reduced formula; None when it is not a usable formula.

    Per element, the strongest column above `threshold` gives the count (a row can only hold one);
    formulas with fewer than `min_elements` or more than `max_elements` elements are dropped, as MatGAN does.
    """
    m = matrices.detach().cpu().numpy() if isinstance(matrices, torch.Tensor) else np.asarray(matrices)
    m = m.reshape(-1, *SHAPE)
    best = m.argmax(-1)
    present = m.max(-1) >= threshold
    out: list[str | None] = []
    for rows, cols in zip(present, best):
        idx = np.flatnonzero(rows)
        if not min_elements <= len(idx) <= max_elements:
            out.append(None)
            continue
        counts = {ELEMENTS[i]: int(cols[i]) + 1 for i in idx}
        out.append(Composition(counts).reduced_formula)
    return out


def to_counts(matrices: torch.Tensor | np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """Generator outputs (N, 85, 8) -> int8 counts (N, 85): 0 = absent, else 1..8 (the argmax column + 1)."""
    if isinstance(matrices, np.ndarray):
        matrices = torch.from_numpy(matrices)
    m = matrices.reshape(-1, *SHAPE)
    values, cols = m.max(-1)
    return ((cols + 1) * (values >= threshold)).to(torch.int8).cpu().numpy()


def canonical_counts(counts: np.ndarray, min_elements: int = 2, max_elements: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Divide each row by its gcd (Fe2O2 == FeO) and keep rows with an allowed number of elements.
    Returns (canonical rows, index of each kept row in the input)."""
    n_elements = (counts > 0).sum(1)
    keep = np.flatnonzero((n_elements >= min_elements) & (n_elements <= max_elements))
    rows = counts[keep].astype(np.int16)
    divisor = np.gcd.reduce(rows, axis=1)
    return (rows // np.maximum(divisor, 1)[:, None]).astype(np.int8), keep


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct count rows and how often each occurs (fast: rows compared as raw bytes)."""
    rows = np.ascontiguousarray(rows)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first, multiplicity = np.unique(keys, return_index=True, return_counts=True)
    return rows[first], multiplicity


def counts_of(formulas: Sequence[str]) -> np.ndarray:
    """Canonical count rows of known formulas (unrepresentable ones dropped)."""
    rows = []
    for f in formulas:
        try:
            counts = reduced_counts(f)
        except ValueError:
            continue
        if all(s in ROW and 1 <= n <= MAX_COUNT for s, n in counts.items()):
            row = np.zeros(len(ELEMENTS), np.int8)
            for s, n in counts.items():
                row[ROW[s]] = n
            rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, len(ELEMENTS)), np.int8)


def row_formula(row: np.ndarray) -> str:
    """A readable reduced formula for one count row (pymatgen's electronegativity order)."""
    return Composition({ELEMENTS[i]: int(row[i]) for i in np.flatnonzero(row)}).reduced_formula


def row_key(row: np.ndarray) -> bytes:
    return np.ascontiguousarray(row, dtype=np.int8).tobytes()

"""SMACT screening of generated compositions (count rows of `composition_matrix`).

MatGAN calls a composition chemically valid when some assignment of SMACT oxidation states is
charge-neutral AND passes the Pauling electronegativity test. Unlike CDVAE's validity, there is
no "all metals is an alloy, so valid" rule here (MatGAN's screening has none); both shares are
reported so the two conventions can be compared.

The answers are those of `matlib.evaluation.validity.smact_validity` (SMACT's oxidation states and
Pauling test), but a GAN yields millions of distinct 4-8 element formulas, and trying every
combination of oxidation states costs milliseconds each. So every row goes through the exact
partial-sum search that `validity` uses for large combinations (equal to the loop, tested in
tests/test_evaluation_validity.py), with each element's SMACT data looked up once per process (`validity.element_data`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import smact

from .composition_matrix import ELEMENTS
from ..parallel import parallel_map
from ..evaluation.validity import element_data, oxidation_assignment_exists

COLUMNS = ["charge_neutral", "chemically_valid", "cdvae_comp_valid"]


def row_elements(row: np.ndarray) -> tuple[list[str], list[int]]:
    idx = np.flatnonzero(row)
    return [ELEMENTS[i] for i in idx], [int(row[i]) for i in idx]


def screen_row(row: np.ndarray) -> tuple[bool, bool, bool]:
    """(charge neutral, charge neutral + Pauling, CDVAE-valid) for one gcd-reduced count row."""
    symbols, counts = row_elements(row)
    if len(symbols) == 1:
        return True, True, True  # smact_validity's rule: a single element is valid
    metals = all(s in smact.metals for s in symbols)
    data = [element_data(s) for s in symbols]
    if any(d is None for d in data):
        return False, False, metals
    states, enegs = [d[0] for d in data], [d[1] for d in data]
    neutral = oxidation_assignment_exists(states, enegs, counts, use_pauling_test=False)
    valid = neutral and oxidation_assignment_exists(states, enegs, counts, use_pauling_test=True)
    return neutral, valid, valid or metals


def screen_rows(rows: Sequence[np.ndarray], executor=None, chunksize: int = 2048) -> pd.DataFrame:
    flags = parallel_map(screen_row, list(rows), executor=executor, chunksize=chunksize, desc="SMACT screening")
    return pd.DataFrame(flags, columns=COLUMNS, dtype=bool)

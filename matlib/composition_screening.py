"""SMACT screening of generated compositions (count rows of `composition_matrix`).

MatGAN calls a composition chemically valid when some assignment of SMACT oxidation states is
charge-neutral AND passes the Pauling electronegativity test. Unlike CDVAE's validity, there is
no "all metals is an alloy, so valid" rule here (MatGAN's screening has none); both shares are
reported so the two conventions can be compared.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .composition_matrix import ELEMENTS
from .evaluation.parallel import parallel_map
from .evaluation.validity import smact_validity


def row_elements(row: np.ndarray) -> tuple[list[str], list[int]]:
    idx = np.flatnonzero(row)
    return [ELEMENTS[i] for i in idx], [int(row[i]) for i in idx]


def screen_row(row: np.ndarray) -> tuple[bool, bool, bool]:
    """(charge neutral, charge neutral + Pauling, CDVAE-valid) for one gcd-reduced count row."""
    symbols, counts = row_elements(row)
    neutral = smact_validity(symbols, counts, use_pauling_test=False, include_alloys=False)
    valid = neutral and smact_validity(symbols, counts, use_pauling_test=True, include_alloys=False)
    cdvae = valid or smact_validity(symbols, counts, use_pauling_test=True, include_alloys=True)
    return neutral, valid, cdvae


def screen_rows(rows: Sequence[np.ndarray], executor=None, chunksize: int = 2048) -> pd.DataFrame:
    flags = parallel_map(screen_row, list(rows), executor=executor, chunksize=chunksize, desc="SMACT screening")
    return pd.DataFrame(flags, columns=["charge_neutral", "chemically_valid", "cdvae_comp_valid"])

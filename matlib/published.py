"""Published generation numbers (CDVAE's Table 1 metrics), to print next to our own.

Percentages as printed in the papers. Sources: CDVAE (Xie et al., ICLR 2022) Table 2 as quoted by
the review's Table 1; DiffCSP (Jiao et al., NeurIPS 2023) MP-20 row as reproduced in
PaddlePaddle/PaddleMaterial's README (no primary text available; see shared/notes/diffcsp.md).
All were trained on the full *train* split; ours train on *val*.
"""
from __future__ import annotations

import pandas as pd

COLUMNS = ["struct_valid", "comp_valid", "cov_r", "cov_p"]

TABLE1 = [
    # method, dataset, struct valid %, comp valid %, COV-R %, COV-P %, source
    ("CDVAE (paper)", "perov_5", 100.0, 98.59, 99.45, 98.46, "Xie et al. 2022, Table 2"),
    ("CDVAE (paper)", "carbon_24", 100.0, None, 99.80, 83.08, "Xie et al. 2022, Table 2"),
    ("CDVAE (paper)", "mp_20", 100.0, 86.70, 99.15, 99.49, "Xie et al. 2022, Table 2"),
    ("DiffCSP (paper)", "mp_20", 100.0, 83.25, 99.71, 99.76, "Jiao et al. 2023 via PaddleMaterial README"),
]


def table1(dataset: str | None = None) -> pd.DataFrame:
    """Published rows, as fractions (like our reports), optionally for one dataset."""
    frame = pd.DataFrame(TABLE1, columns=["method", "dataset", *COLUMNS, "source"])
    frame[COLUMNS] = frame[COLUMNS] / 100
    return frame if dataset is None else frame[frame.dataset == dataset].reset_index(drop=True)

"""Published generation numbers, to print next to our own.

Percentages as printed in the papers. Table 1 (structures): CDVAE (Xie et al., ICLR 2022) Table 2 as
quoted by the review's Table 1; DiffCSP (Jiao et al., NeurIPS 2023) MP-20 row as reproduced in
PaddlePaddle/PaddleMaterial's README (no primary text available; see shared/notes/diffcsp.md).
All were trained on the full *train* split; ours train on *val*.
Table 2 (compositions): MatGAN (Dan et al., npj Comput. Mater. 2020) as quoted by the review's
Table 2, plus the abstract's novelty (ICSD) and SMACT validity (a GAN trained on valid formulas only).
"""
from __future__ import annotations

import pandas as pd

COLUMNS = ["struct_valid", "comp_valid", "cov_r", "cov_p"]
# Wasserstein distances to the test set: density (g/cm^3), the dataset's energy property judged by a
# GNN (eV/atom), number of elements.
PROPERTY_COLUMNS = ["wdist_density", "wdist_prop", "wdist_num_elems"]

TABLE1 = [
    # method, dataset, struct valid %, comp valid %, COV-R %, COV-P %, ρ, E, # elem, source
    ("CDVAE (paper)", "perov_5", 100.0, 98.59, 99.45, 98.46, 0.1258, 0.0264, 0.0628, "Xie et al. 2022, Table 2"),
    ("CDVAE (paper)", "carbon_24", 100.0, None, 99.80, 83.08, 0.1407, 0.2850, None, "Xie et al. 2022, Table 2"),
    ("CDVAE (paper)", "mp_20", 100.0, 86.70, 99.15, 99.49, 0.6875, 0.2778, 1.432, "Xie et al. 2022, Table 2"),
    ("DiffCSP (paper)", "mp_20", 100.0, 83.25, 99.71, 99.76, None, None, None,
     "Jiao et al. 2023 via PaddleMaterial README"),
]


TABLE2_COLUMNS = ["training_compositions", "held_out_compositions", "generated_samples", "recovery_training",
                  "recovery_held_out", "new_samples", "novelty", "chemically_valid"]

_REVIEW = "Dan et al. 2020 via the review's Table 2"
_ABSTRACT = "Dan et al. 2020, abstract"
TABLE2 = [
    # method, database, training #, leave-out #, generated, recovery of training %, of leave-out %, new samples,
    # novelty %, chemically valid %, source. "New samples" is the paper's count: generated samples minus the
    # recovered compositions, not de-duplicated (so not our distinct "new compositions").
    ("MatGAN (paper)", "OQMD", 251_368, 27_929, 2_000_000, 60.26, 60.43, 1_831_648, None, None, _REVIEW),
    ("MatGAN (paper)", "MP", 57_530, 6_392, 2_000_000, 47.36, 48.82, 1_969_633, None, None, _REVIEW),
    ("MatGAN (paper)", "ICSD", 25_323, 2_813, 2_000_000, 59.54, 60.13, 1_983_231, None, None, _REVIEW),
    # The abstract's two numbers, each from its own model; the second GAN saw only SMACT-valid formulas.
    ("MatGAN (paper, abstract)", "ICSD", None, None, 2_000_000, None, None, None, 92.53, None, _ABSTRACT),
    ("MatGAN (paper, abstract)", "ICSD, SMACT-valid only", None, None, None, None, None, None, None, 84.5, _ABSTRACT),
]
TABLE2_PERCENT = ("recovery_training", "recovery_held_out", "novelty", "chemically_valid")


def new_samples(table2: dict) -> int:
    """MatGAN's "new samples" for a Table 2 row of ours: generated minus recovered, as the paper counts
    (this reproduces its three rows); our distinct count is ``new_compositions``."""
    return table2["generated_samples"] - table2["recovered_training"] - table2["recovered_held_out"]


def table2() -> pd.DataFrame:
    """MatGAN's published rows, percentages as fractions (like our results); counts stay integers (NA if unknown)."""
    frame = pd.DataFrame(TABLE2, columns=["method", "dataset", *TABLE2_COLUMNS, "source"])
    frame[list(TABLE2_PERCENT)] = frame[list(TABLE2_PERCENT)].astype(float) / 100
    counts = [c for c in TABLE2_COLUMNS if c not in TABLE2_PERCENT]
    frame[counts] = frame[counts].astype("Int64")
    return frame


def table1(dataset: str | None = None) -> pd.DataFrame:
    """Published rows, as fractions (like our reports), optionally for one dataset."""
    frame = pd.DataFrame(TABLE1, columns=["method", "dataset", *COLUMNS, *PROPERTY_COLUMNS, "source"])
    frame[COLUMNS] = frame[COLUMNS] / 100
    return frame if dataset is None else frame[frame.dataset == dataset].reset_index(drop=True)

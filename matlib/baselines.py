"""Baselines a structure model must beat: the training mean, and composition alone
(Magpie element-property statistics + ridge regression), which ignores where atoms sit."""
from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Sequence

import numpy as np
from pymatgen.core import Composition, Structure
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .progress import progress


@lru_cache(maxsize=1)
def _magpie():
    from matminer.featurizers.composition import ElementProperty

    return ElementProperty.from_preset("magpie", impute_nan=True)


@lru_cache(maxsize=200_000)
def _magpie_row(formula: str) -> tuple[float, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tuple(_magpie().featurize(Composition(formula)))


def magpie_features(items: Sequence[Structure | str], desc: str = "magpie") -> np.ndarray:
    """132 Magpie features per structure or formula (cached by reduced formula: compositions repeat a lot)."""
    formulas = [x if isinstance(x, str) else x.composition.reduced_formula for x in items]
    rows = [_magpie_row(f) for f in progress(formulas, desc=desc)]
    return np.nan_to_num(np.asarray(rows, dtype=float))


def mean_baseline(train_y: np.ndarray, test_y: np.ndarray) -> float:
    """MAE of always predicting the training mean."""
    return float(np.nanmean(np.abs(test_y - np.nanmean(train_y))))


def composition_ridge(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Ridge on standardised Magpie features, regularisation chosen by cross-validation."""
    ok = np.isfinite(train_y)
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    model.fit(train_x[ok], train_y[ok])
    return model.predict(test_x)


def random_crystals(reference: Sequence[Structure], n: int, seed: int = 0) -> list[Structure]:
    """A trivially bad generator: atom counts, elements and volume per atom drawn from the
    reference set, positions uniform in a random cell. Every metric should rank it last."""
    from pymatgen.core import Lattice

    rng = np.random.default_rng(seed)
    sizes = np.array([len(s) for s in reference])
    volumes = np.array([s.volume / len(s) for s in reference])
    elements = [site.specie for s in reference for site in s]
    out = []
    for _ in range(n):
        k = int(rng.choice(sizes))
        lengths = rng.uniform(0.6, 1.4, 3)
        angles = rng.uniform(60, 120, 3)
        lattice = Lattice.from_parameters(*lengths, *angles)
        scale = (rng.choice(volumes) * k / lattice.volume) ** (1 / 3)
        lattice = Lattice.from_parameters(*(lengths * scale), *angles)
        species = [elements[i] for i in rng.integers(0, len(elements), k)]
        out.append(Structure(lattice, species, rng.random((k, 3))))
    return out

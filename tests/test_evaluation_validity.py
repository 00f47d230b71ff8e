"""Structure and SMACT composition validity (CDVAE definitions, smact 4.x)."""
import itertools
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

import numpy as np
import pytest
import smact
from pymatgen.core import Composition, Element, Lattice, Structure
from smact.screening import pauling_test

from matlib.evaluation import validity as V


def pair(distance: float, a: float = 6.0) -> Structure:
    return Structure(Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [distance / a, 0, 0]])


def test_atoms_closer_than_half_an_angstrom_make_a_structure_invalid():
    assert not V.structure_validity(pair(0.3))
    assert V.structure_validity(pair(0.6))
    constructed, ok, reason = V.check_structure(pair(0.3))
    assert constructed and not ok and "closer" in reason


def test_periodic_images_count_for_the_distance():
    # 0.2 and 5.8 in a 6 A cell are 0.4 A apart through the boundary
    s = Structure(Lattice.cubic(6.0), ["Na", "Cl"], [[0.2 / 6, 0, 0], [5.8 / 6, 0, 0]])
    assert not V.structure_validity(s)


@pytest.mark.parametrize("structure", [
    None,
    Structure(Lattice(np.full((3, 3), np.nan)), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    Structure(Lattice(np.zeros((3, 3))), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    Structure(Lattice.cubic(0.4), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),  # 0.064 A^3
    Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [np.nan, 0.5, 0.5]]),
], ids=["none", "nan-lattice", "zero-volume", "tiny-volume", "nan-coords"])
def test_garbage_is_invalid_and_never_raises(structure):
    constructed, ok, reason = V.check_structure(structure)
    assert not ok and not constructed and reason
    assert V.validity_one(structure)[1] is False


@pytest.mark.parametrize("formula, expected", [
    ("NaCl", True),
    ("NaCl2", False),      # Na+ and Cl- cannot balance 1:2
    ("Na2Cl2", True),      # counts are reduced by their gcd first, as CDVAE does
    ("Fe3Al", True),       # all metals: the alloy rule
    ("CuZn", True),
    ("C", True),           # one element
    ("SrTiO3", True),
    ("NaHe", False),       # He has oxidation_states None in smact 4: no states, not a crash
    ("LiF2", False),
])
def test_composition_validity_cases(formula, expected):
    assert V.composition_validity(Composition(formula)) is expected


def test_carbon_structure_is_valid_everywhere():
    diamond = Structure(Lattice.cubic(3.567), ["C"] * 2, [[0, 0, 0], [0.25, 0.25, 0.25]])
    assert V.validity_one(diamond)[1:3] == (True, True)


def test_gcd_matters_for_raw_smact_calls():
    # the public function asks smact about exactly the counts given, as CDVAE did
    assert V.smact_validity(("Na", "Cl"), (1, 1))
    assert not V.smact_validity(("Na", "Cl"), (2, 2))


def _cdvae_style(symbols, counts):
    """An independent, literal brute force over smact's own functions (the reference)."""
    if len(set(symbols)) == 1 or all(s in smact.metals for s in symbols):
        return True
    elements = [smact.Element(s) for s in symbols]
    enegs = [e.pauling_eneg for e in elements]
    for states in itertools.product(*[e.oxidation_states or [] for e in elements]):
        ratios = smact.neutral_ratios(states, stoichs=[(c,) for c in counts], threshold=max(counts))
        assert isinstance(ratios, list)  # smact >= 3 API
        if ratios and (None in enegs or pauling_test(states, enegs)):
            return True
    return False


@pytest.mark.parametrize("formula", ["NaCl", "NaCl2", "Li2O", "Fe2O3", "TiOsNOF", "BaTiO3", "CsPbI3", "MgSiN2",
                                     "Li3PS4", "KAu", "CaF", "GaAs", "AlPO4", "LaNiO2F"])
def test_composition_validity_agrees_with_direct_smact_calls(formula):
    symbols, counts = V.composition_key(Composition(formula))
    assert V.composition_validity(Composition(formula)) == _cdvae_style(symbols, counts)


def test_sign_shortcut_equals_the_smact_loop():
    rng = np.random.default_rng(0)
    symbols = [Element.from_Z(z).symbol for z in range(1, 95)]
    decided = 0
    for _ in range(600):
        k = int(rng.integers(2, 5))
        elems = [str(s) for s in rng.choice(symbols, k, replace=False)]
        counts = tuple(int(c) for c in rng.integers(1, 7, k))
        sm = [smact.Element(s) for s in elems]
        ox = [tuple(e.oxidation_states or ()) for e in sm]
        en = [e.pauling_eneg for e in sm]
        for pauling in (True, False):
            loop = V._search_smact(ox, en, counts, pauling)
            assert loop == V.oxidation_assignment_exists(ox, en, counts, pauling), (elems, counts, pauling)
            decided += loop
    assert decided > 50  # the comparison covered both outcomes


def test_many_element_compositions_are_decided_quickly():
    import time
    start = time.perf_counter()
    V.composition_validity(Composition("ClVCrSeTcInHfTlBi"))  # millions of state combinations
    assert time.perf_counter() - start < 1.0


def test_smact_version_is_recorded():
    assert metadata.version("smact") in V.SMACT_VERSION
    assert smact.__version__ in V.SMACT_VERSION


def test_validity_table_serial_equals_threads():
    structures = [pair(0.3), pair(1.5), None, Structure(Lattice.cubic(4), ["Na", "Cl"], [[0, 0, 0], [.5, .5, .5]])]
    serial = V.validity_table(structures, progress_bar=False)
    with ThreadPoolExecutor(2) as ex:
        threaded = V.validity_table(structures, executor=ex, progress_bar=False)
    assert serial.equals(threaded)
    assert serial["struct_valid"].tolist() == [False, True, False, True]

"""Wasserstein property distances, the valid-sample draw, judges, and the success rate."""
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from scipy.stats import wasserstein_distance

from matlib.evaluation.properties import (density, element_shares, num_elements, run_judge, sample_valid,
                                         share_distance, wasserstein)
from matlib.evaluation.success import in_window, success_flags, success_rate


def test_wasserstein_is_scipys_with_nan_dropped():
    g, r = [1.0, 2.0, np.nan, 4.0], [1.5, 2.5, 3.5, np.inf]
    dist, n_g, n_r = wasserstein(g, r)
    assert dist == pytest.approx(wasserstein_distance([1, 2, 4], [1.5, 2.5, 3.5]))
    assert (n_g, n_r) == (3, 3)
    assert np.isnan(wasserstein([np.nan], [1.0])[0])


def test_sample_valid_draws_only_valid_seeded_and_tolerates_few():
    valid = np.zeros(100, bool)
    valid[::3] = True                      # 34 valid
    a = sample_valid(valid, 10, seed=1)
    assert len(a) == 10 and valid[a].all() and len(set(a)) == 10
    assert a.tolist() == sample_valid(valid, 10, seed=1).tolist()
    assert a.tolist() != sample_valid(valid, 10, seed=2).tolist()
    assert sample_valid(valid, 1000).tolist() == np.flatnonzero(valid).tolist()   # fewer valid: all, no error


def test_element_shares_count_atoms_and_their_distance_is_the_share_that_must_change():
    salt = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [.5, .5, .5]])
    oxide = Structure(Lattice.cubic(4.0), ["Mg", "O", "O", "O"], [[0, 0, 0], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])
    shares = element_shares([salt, None, oxide])
    assert shares == pytest.approx({"O": 0.5, "Na": 1 / 6, "Cl": 1 / 6, "Mg": 1 / 6})
    assert list(shares)[0] == "O" and sum(shares.values()) == pytest.approx(1.0)
    assert element_shares([None]) == {}
    assert share_distance(shares, shares) == 0.0
    assert share_distance(element_shares([salt]), element_shares([oxide])) == pytest.approx(1.0)
    # one of the six atoms must change (an O into Cl) to turn the mix into {O: 1/3, Cl: 1/3, ...}
    target = {"O": 1 / 3, "Na": 1 / 6, "Cl": 1 / 3, "Mg": 1 / 6}
    assert share_distance(shares, target) == pytest.approx(1 / 6)


def test_density_and_element_count_are_cdvaes():
    s = Structure(Lattice.cubic(4.0), ["Na", "Cl", "Cl"], [[0, 0, 0], [.5, .5, .5], [0, .5, .5]])
    assert density(s) == pytest.approx(s.density, rel=1e-12)
    assert num_elements(s) == len(set(s.species)) == 2
    ionic = Structure(Lattice.cubic(4.0), ["Na+", "Cl-"], [[0, 0, 0], [.5, .5, .5]])
    assert density(ionic) == pytest.approx(ionic.density, rel=1e-12)
    mixed = Structure(Lattice.cubic(4.0), [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [.5, .5, .5]])
    assert density(mixed) == pytest.approx(mixed.density, rel=1e-12)   # a disordered site: pymatgen's way


def test_run_judge_retries_one_by_one_and_marks_failures_nan():
    good = Structure(Lattice.cubic(4.0), ["Na"], [[0, 0, 0]])
    bad = Structure(Lattice.cubic(4.0), ["K"], [[0, 0, 0]])

    def judge(structures):
        if any(s.species[0].symbol == "K" for s in structures):
            raise RuntimeError("cannot judge potassium")
        return [s.volume for s in structures]

    values = run_judge(judge, [good, bad, good])
    assert values[0] == values[2] == pytest.approx(64.0) and np.isnan(values[1])
    with pytest.raises(RuntimeError):
        run_judge(judge, [bad])
    with pytest.raises(ValueError):
        run_judge(lambda ss: [1.0], [good, good])


def test_success_rate_on_hand_made_values():
    values = [1.0, 2.0, 3.0, np.nan, 5.0, 6.0]
    valid = [True, True, False, True, True, True]
    # in [2, 5]: 2.0 (valid), 3.0 (invalid), 5.0 (valid) -> 2 successes over all 6 samples
    rate, hits, n = success_rate(values, valid, 2.0, 5.0)
    assert (rate, hits, n) == (pytest.approx(2 / 6), 2, 6)
    assert success_flags(values, valid, 2.0, 5.0).tolist() == [False, True, False, False, True, False]
    assert success_rate(values, valid, None, 1.5)[1] == 1          # open lower end
    assert success_rate(values, valid, 5.5, None)[1] == 1          # open upper end
    assert in_window([np.nan, np.inf], None, None).tolist() == [False, False]
    with pytest.raises(ValueError):
        in_window([1.0], 3.0, 2.0)


def test_standard_errors_and_what_a_sample_can_separate():
    import pandas as pd

    from matlib.evaluation.success import noise_notes, standard_error, within_noise

    assert standard_error(0.5, 100) == pytest.approx(0.05) and np.isnan(standard_error(0.5, 0))
    assert np.allclose(standard_error([0.0, 1.0], [10, 10]), 0.0)
    assert within_noise(0.16, 100, 0.16, 100) and within_noise(0.20, 100, 0.16, 100)      # issue 41's teach rows
    assert not within_noise(0.40, 1000, 0.16, 1000)
    table = pd.DataFrame({"task": ["t", "t", "t"], "method": ["no target", "guided", "much better"],
                          "success_rate": [0.16, 0.20, 0.60], "n": [100, 100, 100]})
    notes = noise_notes(table, table.method == "no target")
    assert len(notes) == 1 and notes[0].startswith("t: guided 20.0% ± 4.0% (n = 100) vs. no target 16.0%")

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from matlib.search import candidates
from matlib import io as crystal_io


def rocksalt(a, b, size=4.2):
    return Structure(Lattice.cubic(size), [a, b], [[0, 0, 0], [0.5, 0.5, 0.5]])


class FakeJudge:
    """Reads a property off the lattice constant, so tests know every judged value."""

    def __init__(self, offset):
        self.offset = offset

    def __call__(self, structures):
        return np.array([s.lattice.a + self.offset for s in structures])


def test_best_keeps_valid_crystals_one_per_formula_lowest_score_first():
    structures = [rocksalt("Na", "Cl"), rocksalt("K", "Cl"), rocksalt("Na", "Cl"), rocksalt("Mg", "O"),
                  rocksalt("Li", "F")]
    valid = [True, True, True, False, True]
    score = [0.5, 0.9, 0.1, 0.0, np.nan]
    assert candidates.best(structures, valid, score, k=5) == [2, 1]     # invalid and NaN out; NaCl once
    assert candidates.best(structures, valid, score, k=1) == [2]


def test_scores_rank_by_distance_to_each_frames_target_in_half_widths():
    structures = [rocksalt("Na", "Cl", a) for a in (4.0, 5.0, 6.0)]
    judge = lambda prop: FakeJudge({"band_gap": -2.0, "formation_energy_per_atom": -8.0}[prop])
    targets = [{"band_gap": 3.0}, {"band_gap": 3.0}, {"band_gap": 3.0, "formation_energy_per_atom": -2.0}]
    score, rule, judged = candidates.scores(structures, targets, "mp_20", judge,
                                            {"band_gap": 0.5, "formation_energy_per_atom": 0.25})
    assert rule == "nearest the target"
    np.testing.assert_allclose(judged["band_gap"], [2.0, 3.0, 4.0])
    np.testing.assert_allclose(score, [2.0, 0.0, 2.0 + 0.0])     # |4-3|/0.5 + |-2-(-2)|/0.25
    mixed, _, _ = candidates.scores(structures, [{}, {"band_gap": 3.0}, {}], "mp_20", judge)
    assert np.isnan(mixed[[0, 2]]).all() and mixed[1] == 0.0
    assert candidates.best(structures, [True] * 3, mixed, k=3) == [1]


def test_scores_without_targets_rank_by_the_datasets_energy_judge():
    structures = [rocksalt("Na", "Cl", a) for a in (5.0, 4.0)]
    asked = []
    judge = lambda prop: asked.append(prop) or FakeJudge(-10.0)
    score, rule, judged = candidates.scores(structures, [{}, {}], "perov_5", judge)
    assert asked == ["heat_ref"] and rule == "most stable by the judge"
    np.testing.assert_allclose(score, [-5.0, -6.0])


def test_targets_and_datasets_come_from_frames_or_results():
    swarm = {"metrics": {"task": {"dataset": "perov_5", "property": "heat_ref", "target": 0.5, "window": [0.25, 0.75]}}}
    adapters = {"metrics": {"windows": {"band gap 3 eV": [2.5, 3.5], "formation energy -2 eV/atom": [-2.25, -1.75]},
                            "base_model": {"checkpoint": "mp_20"}}}
    con = {"metrics": {"dataset": "mp_20", "windows": {"t": {"band_gap": [2.5, 3.5],
                                                             "formation_energy_per_atom": [-2.25, -1.75]}}}}
    assert candidates.frame_targets({"target_band_gap": 3, "valid": True, "task": "x"}) == {"band_gap": 3.0}
    assert candidates.results_targets("08_latent_swarm", swarm) == {"heat_ref": 0.5}
    assert candidates.results_targets("06_adapters_guidance", adapters) == {"band_gap": 3.0}
    assert candidates.results_targets("05_con_cdvae", con) == {}
    assert [candidates.dataset_of(s, r) for s, r in [("08", swarm), ("06", adapters), ("05", con)]] == \
        ["perov_5", "mp_20", "mp_20"]
    assert candidates.half_widths(con) == {"band_gap": 0.5, "formation_energy_per_atom": 0.25}
    assert candidates.half_widths(swarm) == {"heat_ref": 0.25}


def test_frames_keep_their_info_and_moved_files_are_found(tmp_path):
    structures = [rocksalt("Na", "Cl"), rocksalt("K", "Br", 5.0)]
    folder = tmp_path / "08_latent_swarm"
    crystal_io.write_extxyz(structures, folder / "swarm_candidates.extxyz",
                            info=[{"target_heat_ref": 0.5, "valid": True}, {"target_heat_ref": 0.5, "valid": False}])
    res = {"files": {"candidates": "/elsewhere/08_latent_swarm/swarm_candidates.extxyz", "ck": "/x/y.safetensors"}}
    found = candidates.output_file(res, tmp_path, "08_latent_swarm")
    assert found == folder / "swarm_candidates.extxyz"
    read, info = crystal_io.read_extxyz_frames(found, limit=1)
    assert len(read) == 1 and read[0].composition.reduced_formula == "NaCl"
    assert candidates.frame_targets(info[0]) == {"heat_ref": 0.5}
    assert candidates.output_file(res, tmp_path / "nothing", "08_latent_swarm") is None


def test_a_limited_read_spreads_over_the_file(tmp_path):
    structures = [rocksalt(a, "Cl") for a in ("Li", "Na", "K", "Rb", "Cs", "Ag", "Tl")]
    path = crystal_io.write_extxyz(structures, tmp_path / "x.extxyz", info=[{"task": f"t{i}"} for i in range(7)])
    read, info = crystal_io.read_extxyz_frames(path, limit=3)
    assert [i["task"] for i in info] == ["t0", "t3", "t6"]
    assert [s.composition.reduced_formula for s in read] == ["LiCl", "RbCl", "TlCl"]
    assert len(crystal_io.read_extxyz_frames(path)[0]) == 7 == len(crystal_io.read_extxyz(path))
    assert candidates.best(read, [True] * 3, [0.0, 1.0, 2.0], k=0) == []

"""Cached CHGNet labels, the per-system hull and S.U.N. inside ``evaluate`` (CPU, a few MP-20 crystals)."""
import gzip
import itertools
import warnings

import numpy as np
import pytest
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition

from matlib.datasets import load_split
from matlib.evaluation import evaluate
from matlib.oracle import ReferenceHull, e_above_hull, predict, reference_hull
from matlib.oracle import labels as oracle_labels
from matlib.oracle import references as oracle_references


@pytest.fixture(scope="module")
def val_crystals(data_root):
    return load_split("mp_20", "val", limit=12, progress_bar=False)


def test_labels_round_trip_and_refuse_a_changed_file(val_crystals, tmp_path):
    structures = val_crystals.structures[:4]
    ids = val_crystals.table["material_id"].astype(str).tolist()[:4]
    frame = oracle_labels.compute_labels(structures, ids, relax_steps=0, batch_size=4)
    expected = predict(structures)
    np.testing.assert_allclose(frame["e_relaxed"], expected["energy_per_atom"], atol=1e-6)
    assert (frame["e_initial"] == frame["e_relaxed"]).all() and frame["converged"].all()
    oracle_labels._write(frame, "mp_20__val", {"dataset": "mp_20", "split": "val"}, tmp_path)
    loaded = oracle_labels.load_labels("mp_20", "val", tmp_path)
    assert loaded["material_id"].tolist() == ids
    np.testing.assert_allclose(loaded["e_relaxed"], frame["e_relaxed"], atol=1e-5)    # stored to 5 decimals
    assert loaded.attrs["manifest"]["rows"] == 4

    path = tmp_path / "mp_20__val.table.json.gz"
    text = gzip.decompress(path.read_bytes()).decode().replace(ids[0], "mp-0")
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(oracle_labels.LabelsError, match="does not match its manifest"):
        oracle_labels.load_labels("mp_20", "val", tmp_path)
    with pytest.raises(oracle_labels.LabelsError, match="python -m matlib.oracle.labels"):
        oracle_labels.load_labels("mp_20", "test", tmp_path)
    with pytest.raises(ValueError, match="infinite"):
        oracle_labels._write(frame.assign(e_relaxed=np.inf), "bad", {}, tmp_path)


def test_per_system_hull_equals_one_phase_diagram_over_everything():
    rng = np.random.default_rng(3)
    formulas = ["Li", "Na", "O", "Li2O", "Na2O", "LiO2", "NaO2", "LiNaO", "Li3NaO2", "LiNa", "Na2O2"]
    energies = [0.0, 0.0, 0.0] + list(rng.uniform(-2.0, -0.2, len(formulas) - 3))
    hull = reference_hull(energies, formulas, relax_missing=False)
    assert isinstance(hull, ReferenceHull)
    whole = PhaseDiagram([PDEntry(Composition(f), e * Composition(f).num_atoms) for f, e in zip(formulas, energies)])
    queries = ["Li2O", "LiNaO2", "Na3O", "LiNa3", "Li4NaO3", "O"]
    trial = rng.uniform(-2.0, 0.5, len(queries))
    ours = e_above_hull(hull, queries, trial)
    theirs = [whole.get_e_above_hull(PDEntry(Composition(q), e * Composition(q).num_atoms), allow_negative=True)
              for q, e in zip(queries, trial)]
    np.testing.assert_allclose(ours, theirs, atol=1e-9)
    # only the systems that were asked for were built, each from its own entries
    assert set(hull._diagrams) <= {frozenset(c) for n in (1, 2, 3) for c in itertools.combinations("Li Na O".split(), n)}


def test_evaluate_reports_sun_on_a_given_hull(val_crystals):
    generated = val_crystals.structures[:4]
    others = val_crystals.structures[4:12]
    static = predict(generated)["energy_per_atom"].to_numpy()
    elements = {el.symbol for s in generated for el in s.composition.elements}
    # elements far above, the generated crystals themselves on the hull: relaxed, they stay on or below it
    hull = reference_hull(static, [s.composition for s in generated], elemental={el: 5.0 for el in elements},
                          relax_missing=False)
    stability = {"max_structures": 4, "steps": 60, "fmax": 0.1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        novel = evaluate(generated, others, dataset="mp_20", train=others, stability=stability, hull=hull,
                         progress_bar=False).as_dict()["metrics"]
        seen = evaluate(generated, others, dataset="mp_20", train=generated, stability=stability, hull=hull,
                        progress_bar=False).as_dict()["metrics"]
        none = evaluate(generated, others, dataset="mp_20", train=others, stability=stability, hull=None,
                        progress_bar=False).as_dict()["metrics"]
    assert novel["stable_0.1"] == 1.0 and novel["e_hull_median"] <= 1e-3
    assert novel["sun_0.1"] == pytest.approx(novel["valid"] * novel["unique"])
    assert seen["sun_0.1"] == 0.0 and seen["stable_0.1"] == 1.0          # known crystals are not novel
    assert "sun_0.1" not in none and "e_hull_median" not in none


def test_evaluate_says_why_there_is_no_hull(val_crystals, tmp_path, monkeypatch):
    monkeypatch.setenv("MATLIB_CACHE", str(tmp_path))          # a data folder without labels
    oracle_references.cached_dataset_hull.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = evaluate(val_crystals.structures[:2], val_crystals.structures[2:6], dataset="mp_20",
                          train=val_crystals.structures[2:6], stability={"max_structures": 2, "steps": 5},
                          progress_bar=False)
    assert "no reference hull for mp_20" in report.meta["sun_skipped"]
    assert "sun_0.1" not in report.as_dict()["metrics"]


def test_oracle_judges_relax_first_and_mark_failures(data_root):
    from pymatgen.core import Structure

    from matlib.datasets import load_table
    from matlib.oracle import bulk_modulus_judge, formation_energy_judge, magnetic_density_judge, relax

    table = load_table("mp_20", "test").set_index("material_id")
    iron = Structure.from_str(table.loc["mp-13", "cif"], fmt="cif")          # bcc Fe
    broken = Structure(iron.lattice, ["Fe", "Fe"], [[0, 0, 0], [0.01, 0, 0]])  # atoms 0.03 Å apart
    judge = formation_energy_judge(references={"Fe": -8.0}, steps=30)
    _, relaxed = relax([iron], steps=30, fmax=0.1)
    values = judge([iron, broken])
    assert values[0] == pytest.approx(relaxed["e_relaxed"][0] + 8.0, abs=1e-6) and np.isnan(values[1])
    # Kittel, 8th ed., ch. 11, Table 2: 2.22 μB per Fe atom at 0 K
    moment = magnetic_density_judge(steps=30)([iron])[0] * iron.volume / len(iron)
    assert moment == pytest.approx(2.22, rel=0.1)
    salt = Structure.from_str(load_table("mp_20", "val").set_index("material_id").loc["mp-22862", "cif"], fmt="cif")
    # Kittel, 8th ed., ch. 3, Table 7: NaCl 24.0 GPa
    assert bulk_modulus_judge(steps=30)([salt, broken])[0] == pytest.approx(24.0, rel=0.15)
    assert np.isnan(bulk_modulus_judge(steps=5)([broken])[0])


def test_oracle_check_rejudges_a_seeded_subset(val_crystals):
    from matlib.evaluation.targeted import oracle_check, sample_frame, window_report

    structures = list(val_crystals.structures[:10]) + [None, None]     # two samples that were never built
    density = lambda crystals: np.array([s.density for s in crystals])  # a second judge: the crystal's density
    frame = sample_frame(structures, diversity=False)
    judged = np.array([np.nan if s is None else s.density for s in structures])
    window = (0.0, float(np.nanmedian(judged)))
    _, per_sample = window_report(frame, judged, window)
    everything = oracle_check(structures, per_sample, density, window, limit=100, seed=1)
    assert everything["n_oracle"] == 12 and everything["agreement"] == 1.0        # the same judge agrees with itself
    assert everything["success_oracle"] == pytest.approx(per_sample["success"].mean())
    subset = oracle_check(structures, per_sample, density, window, limit=5, seed=1)
    assert subset["n_oracle"] == 5 and subset == oracle_check(structures, per_sample, density, window, limit=5, seed=1)
    vetoed = oracle_check(structures, per_sample, density, window, limit=100, seed=1, others_ok=np.zeros(12, bool))
    assert vetoed["success_oracle"] == 0.0
    assert oracle_check(structures, per_sample, density, window, limit=0) == {}


def test_oracle_checks_judge_every_request_in_one_call_and_shared_crystals_once(val_crystals):
    from matlib.evaluation.targeted import oracle_check, oracle_checks, sample_frame, window_report

    structures = list(val_crystals.structures[:12])
    seen = []
    def density(crystals):
        seen.append(len(crystals))
        return np.array([s.density for s in crystals])
    frame = sample_frame(structures, diversity=False)
    judged = np.array([s.density for s in structures])
    windows = [(0.0, float(np.median(judged))), (float(np.median(judged)), 99.0)]
    requests = [(structures, window_report(frame, judged, w)[1], w, None) for w in windows]   # one baseline, two tasks
    batched = oracle_checks(requests, density, limit=8, seed=3)
    assert len(seen) == 1 and 0 < seen[0] <= 8       # one call; the valid ones of the 8 both tasks drew, once
    separate = [oracle_check(crystals, per_sample, density, window, limit=8, seed=3)
                for crystals, per_sample, window, _ in requests]
    assert batched == separate


def test_cached_elements_table_gives_the_same_references_as_relaxing_prototypes(tmp_path):
    from matlib.oracle import elemental_references
    from matlib.oracle.labels import build_elements, elemental_energies
    build_elements(["W", "Na"], root=tmp_path)
    cached = elemental_energies(root=tmp_path)
    direct = elemental_references(["W", "Na"], steps=300)
    assert set(cached) == {"W", "Na"} and direct["W"][1] == "bcc"    # tungsten is bcc
    for element, (energy, _) in direct.items():
        assert cached[element] == pytest.approx(energy, abs=1e-4)

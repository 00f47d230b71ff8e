"""evaluate(): self-scoring sanity, a bad generator, garbage input, and the report's shape."""
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from matlib.crystal import CrystalBatch
from matlib.datasets import load_split
from matlib.evaluation import EvaluationReport, combine_tables, evaluate, prepare_reference, wide_table
from matlib.evaluation.report import TABLE_COLUMNS

N_SELF = 200


@pytest.fixture(scope="module")
def perov():
    return load_split("perov_5", "test", limit=N_SELF, progress_bar=False)


@pytest.fixture(scope="module")
def perov_ref(perov):
    return prepare_reference(perov, progress_bar=False)


@pytest.fixture(scope="module")
def self_report(perov, perov_ref):
    return evaluate(perov.structures, perov_ref, dataset="perov_5", method="test split", progress_bar=False)


def random_crystals(n, seed=0):
    """A trivially bad generator: random elements at random positions in random cells."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(2, 11))
        lattice = Lattice.from_parameters(*rng.uniform(2.0, 8.0, 3), *rng.uniform(60, 120, 3))
        out.append(Structure(lattice, rng.integers(1, 84, k).tolist(), rng.random((k, 3))))
    return out


GARBAGE = [
    None,
    Structure(Lattice(np.full((3, 3), np.nan)), ["Na", "Cl"], [[0, 0, 0], [.5, .5, .5]]),
    Structure(Lattice(np.zeros((3, 3))), ["Na", "Cl"], [[0, 0, 0], [.5, .5, .5]]),
    Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0, 0, 0]]),          # atoms on top of each other
    Structure(Lattice.cubic(0.3), ["Na", "Cl", "O"], [[0, 0, 0], [.5, .5, .5], [.2, .2, .2]]),
]


def test_test_split_scored_against_itself_is_fully_covered(self_report):
    r = self_report
    print("\nPerov-5 test[:200] vs itself:", {m: round(v, 4) for m, v in r.metrics.items()})
    assert r["cov_r"] == 1.0 and r["cov_p"] == 1.0
    assert r["struct_valid"] >= 0.99
    assert r["amsd_p"] == pytest.approx(0.0, abs=1e-12) and r["amcd_r"] == pytest.approx(0.0, abs=1e-12)
    assert 0.9 <= r["comp_valid"] < 1.0          # a few Perov-5 test compositions fail SMACT (98.0% of the first 300)
    assert r["valid"] == pytest.approx(np.mean(r.per_structure["struct_valid"] & r.per_structure["comp_valid"]))
    assert r["unique"] == 1.0                    # the test split holds no duplicates
    assert r["wdist_density"] < 0.2 and r["wdist_num_elems"] < 0.1


def test_random_generator_scores_badly_and_garbage_is_counted(perov_ref):
    generated = random_crystals(60) + GARBAGE
    r = evaluate(generated, perov_ref, dataset="perov_5", method="random", progress_bar=False)
    print("\nrandom generator:", {m: round(v, 4) for m, v in r.metrics.items()})
    per = r.per_structure
    assert len(per) == 65
    assert r["valid"] < 0.5 and r["comp_valid"] < 0.6
    assert r["cov_p"] < 0.05 and r["cov_r"] < 0.05
    assert not per["valid"].iloc[-5:].any() and not per["struct_valid"].iloc[-5:].any()
    assert per["fingerprint_ok"].iloc[-5:].tolist() == [False, False, False, True, False]
    assert r.table.set_index("metric").loc["cov_p", "n"] == 65          # failed fingerprints stay in the denominator
    assert r.table.set_index("metric").loc["wdist_density", "n"] == per["valid"].sum()


def test_table_shape_units_and_absent_metrics(self_report):
    t = self_report.table
    assert list(t.columns) == TABLE_COLUMNS
    assert set(t["method"]) == {"test split"} and set(t["dataset"]) == {"perov_5"}
    fractions = t[t["unit"] == "fraction"]
    assert ((fractions["value"] >= 0) & (fractions["value"] <= 1)).all()
    assert {"struct_valid", "comp_valid", "valid", "cov_r", "cov_p", "amsd_r", "amsd_p", "amcd_r", "amcd_p",
            "wdist_density", "wdist_num_elems", "unique", "comp_unique"} <= set(t["metric"])
    for absent in ("novel", "match_rate", "rmse", "chgnet_ok"):     # their inputs were not given
        assert absent not in self_report
    assert not t["value"].isna().any()
    wide = self_report.wide()
    assert len(wide) == 1 and wide.loc[0, "cov_r"] == 1.0
    payload = json.loads(json.dumps(self_report.as_dict()))
    assert payload["metrics"]["cov_p"] == 1.0 and "4.0.2" in payload["meta"]["smact_version"]
    assert payload["details"]["cov_r"]["unit"] == "fraction"


def test_judges_targets_novelty_and_reconstruction(perov, perov_ref):
    gen = perov.structures[:12]
    rng = np.random.default_rng(0)
    noisy = [Structure(s.lattice, s.species, s.cart_coords + rng.normal(0, 0.02, (len(s), 3)),
                       coords_are_cartesian=True) for s in gen]

    def volume_per_atom(structures):
        return [s.volume / len(s) for s in structures]

    r = evaluate(noisy, perov_ref, dataset="perov_5", train=perov.structures[:6], reconstruct_from=gen,
                 judges={"vpa": volume_per_atom}, targets={"vpa": (None, 12.0)}, n_property_samples=5,
                 method="noisy copy", progress_bar=False)
    assert r["match_rate"] == pytest.approx(r.per_structure["valid"].mean()) and r["match_rate"] > 0.8
    assert 0 < r["rmse"] < 0.05
    valid = r.per_structure["valid"].to_numpy()
    assert r["novel"] == pytest.approx(np.mean(np.arange(12)[valid] >= 6))    # the first 6 are training copies
    vpa = np.array(volume_per_atom(noisy))
    assert r["success:vpa"] == pytest.approx(np.mean(valid & (vpa <= 12.0)))
    assert r.table.set_index("metric").loc["wdist_prop:vpa", "n"] == 5
    assert r.per_structure["in_property_sample"].sum() == 5
    with pytest.raises(ValueError, match="no judge"):
        evaluate(noisy, perov_ref, dataset="perov_5", targets={"missing": (0, 1)}, progress_bar=False)


def test_other_input_forms_and_executor_give_the_same_table(perov, perov_ref):
    gen = perov.structures[:8]
    serial = evaluate(gen, perov_ref, dataset="perovskite", progress_bar=False).table
    with ThreadPoolExecutor(2) as ex:
        threaded = evaluate(CrystalBatch.from_structures(gen, dtype=torch.float64), perov_ref,
                            dataset="perov_5", executor=ex, progress_bar=False).table
    np.testing.assert_allclose(serial["value"], threaded["value"], atol=1e-9)
    dicts = [{"atom_types": [site.specie.Z for site in s], "frac_coords": s.frac_coords,
              "lengths": s.lattice.abc, "angles": s.lattice.angles} for s in gen]
    from_dicts = evaluate(dicts, perov_ref, dataset="perov_5", progress_bar=False).table
    np.testing.assert_allclose(serial["value"], from_dicts["value"], atol=1e-6)
    both = combine_tables([EvaluationReport(serial, None), EvaluationReport(from_dicts.assign(method="b"), None)])
    assert len(wide_table(both)) == 2


def test_stability_option_adds_chgnet_metrics(perov_ref, perov):
    r = evaluate(perov.structures[:4], perov_ref, dataset="perov_5", stability={"steps": 3, "max_structures": 2},
                 progress_bar=False)
    assert r.table.set_index("metric").loc["chgnet_ok", "n"] == 2
    assert {"chgnet_e_initial", "chgnet_e_relaxed", "chgnet_rmsd"} <= set(r.table["metric"])
    assert r.per_structure["chgnet_e_initial"].notna().sum() == 2


def test_stability_without_chgnet_is_skipped_and_said(perov_ref, perov, monkeypatch):
    # a GPU image without CHGNet once reported "0 % relaxed"; a missing package is a skip, not a result
    from matlib.evaluation import stability, suite
    monkeypatch.setattr(suite, "chgnet_missing", lambda: "CHGNet is not installed")
    with pytest.warns(UserWarning, match="stability metrics skipped: CHGNet is not installed"):
        r = evaluate(perov.structures[:4], perov_ref, dataset="perov_5", stability=True, progress_bar=False)
    assert not any(m.startswith("chgnet_") for m in r.table["metric"])
    assert r.meta["stability_skipped"] == "CHGNet is not installed"
    assert r["struct_valid"] == 1.0                     # the other metrics still stand
    monkeypatch.setattr(stability.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install chgnet"):
        stability.relax_structures(perov.structures[:1], progress_bar=False)


@pytest.mark.skipif(not os.environ.get("MATLIB_SLOW_TESTS"), reason="MP-20 fingerprints take minutes; set MATLIB_SLOW_TESTS=1")
def test_mp20_test_split_scored_against_itself():
    mp = load_split("mp_20", "test", limit=200, progress_bar=False)
    r = evaluate(mp.structures, mp, dataset="mp_20", progress_bar=False)
    assert r["cov_r"] == 1.0 and r["cov_p"] == 1.0 and r["struct_valid"] >= 0.99

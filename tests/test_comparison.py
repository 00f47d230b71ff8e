"""The scoreboard reads the notebooks' results files and compares like with like."""
import json
import math

import pandas as pd

import pytest

from matlib import comparison


def write(root, stem, metrics, profile="full", hardware="NVIDIA H200", timings=None, files=None):
    folder = root / stem
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "notebook": stem, "profile": profile, "hardware": hardware, "train_split": "val", "eval_split": "test",
        "metrics": metrics, "timings_s": timings or {"total": 60.0}, "files": files or {}}))


def row(task, method, rate, n=100, seconds=10.0, **extra):
    return {"task": task, "method": method, "success_rate": rate, "n_success": round(rate * n), "n": n,
            "valid": 0.9, "unique": 1.0, "novel": 0.8, "seconds": seconds, "judge": "judge", **extra}


@pytest.fixture
def root(tmp_path):
    perov = "Perov-5 heat_ref 0.5 eV/atom"
    write(tmp_path, "05_con_cdvae", {"success": [row(perov, "Con-CDVAE", 0.4, data_share=0.14),
                                                 row("band gap 3 eV", "Con-CDVAE", 0.2)],
                                     "windows": {perov: {"heat_ref": [0.25, 0.75]}, "band gap 3 eV": {}}})
    write(tmp_path, "06_adapters_guidance", {
        "success": [{**row("band gap 3 eV", "band gap, adapters", 0.1), "gamma": 2.0, "sampling_seconds": 5.0}],
        "windows": {"band gap 3 eV": [2.5, 3.5]}, "data_share_in_window": {"band gap 3 eV": {"val": 0.054}}})
    write(tmp_path, "08_latent_swarm", {
        "task": {"dataset": "perov_5", "property": "heat_ref", "target": 0.5, "window": [0.25, 0.75], "judge": "j"},
        "data_share_in_window": {"val": 0.143},
        "final_round": [{"method": "bird swarm, box ±6", "n": 1000, "success_rate": 0.38, "valid": 0.9,
                         "unique": 0.3, "novel": 0.8},
                        {"method": "random prior", "n": 1000, "success_rate": 0.0, "valid": 0.9,
                         "unique": 0.9, "novel": 0.8}]},
        profile="teach", hardware="CPU", timings={"total": 100.0, "decode_and_judge": 40.0})
    write(tmp_path, "02_cdvae", {"generation": {"perov_5": {"struct_valid": 0.99, "comp_valid": 0.91, "cov_r": 0.92,
                                                            "cov_p": 0.71, "wdist_prop:heat_ref": 0.085}}})
    return tmp_path


def test_targeted_rows_share_one_schema_and_name_their_conditions(root):
    found = comparison.collect(root)
    assert set(found) == {"02_cdvae", "05_con_cdvae", "06_adapters_guidance", "08_latent_swarm"}
    table = comparison.targeted_table(found)
    assert len(table) == 5 and table["profile"].notna().all() and table["hardware"].notna().all()
    swarm = table[table.method == "bird swarm, box ±6"].iloc[0]
    assert swarm.task == "Perov-5 heat_ref 0.5 eV/atom" and swarm.n_success == 380
    assert swarm.seconds == pytest.approx(20.0)                      # 40 s shared by two searches
    assert swarm.seconds_per_1000_successes == pytest.approx(1000 * 20.0 / 380)
    assert math.isnan(table[table.method == "random prior"].iloc[0].seconds_per_1000_successes)  # no success, no price
    adapters = table[table.notebook == "06_adapters_guidance"].iloc[0]
    assert adapters.method == "band gap, adapters, γ = 2" and adapters.seconds == 5.0 and adapters.data_share == 0.054
    assert comparison.shared_tasks(table) == ["Perov-5 heat_ref 0.5 eV/atom", "band gap 3 eV"]


def test_structure_table_puts_published_rows_beside_ours(root):
    table = comparison.structure_table(comparison.collect(root))
    assert list(table.method) == ["CDVAE (ours)", "CDVAE (paper)", "DiffCSP (paper)"]    # only datasets we ran
    assert table.iloc[1].cov_p == pytest.approx(0.9846) and table.iloc[1].train_split == "train"
    assert list(table.property)[:2] == ["heat_ref", "heat_ref"]           # CDVAE's E column is Perov-5's heat_ref
    assert list(table.wdist_prop)[:2] == pytest.approx([0.085, 0.0264])
    assert table.iloc[0].protocol == "not stated" and table.iloc[1].protocol == "CDVAE's"   # no count, no claim
    assert math.isnan(table.iloc[0].wdist_density)                        # not measured: no number made up
    assert comparison.composition_table(comparison.collect(root)).empty


def test_composition_table_puts_matgans_published_rows_under_ours(tmp_path):
    table2 = {"training_compositions": 8022, "held_out_compositions": 7411, "generated_samples": 2_000_000,
              "distinct_generated": 1_228_451, "recovered_training": 3337, "recovered_held_out": 2852,
              "recovery_training": 0.416, "recovery_held_out": 0.385, "new_compositions": 1_222_262, "novelty": 0.997,
              "uniqueness": 0.664, "chemically_valid": 0.484, "charge_neutral": 0.588}
    write(tmp_path, "03_matgan", {"dataset": "mp_20", "table2": table2})
    table = comparison.composition_table(comparison.collect(tmp_path))
    assert list(table.method) == ["MatGAN (ours)"] + ["MatGAN (paper)"] * 3 + ["MatGAN (paper, abstract)"] * 2
    assert list(table.dataset)[:4] == ["mp_20", "OQMD", "MP", "ICSD"]
    ours = table.iloc[0]
    assert ours["recovery of held-out"] == pytest.approx(0.385) and ours.train_split == "val"
    assert ours["charge neutral"] == pytest.approx(0.588)
    # "new" counted both ways: our distinct formulas, and the paper's generated − recovered
    assert ours["new distinct (in neither set)"] == 1_222_262
    assert ours["new samples (generated − recovered, the paper's count)"] == 2_000_000 - 3337 - 2852
    mp = table[table.dataset == "MP"].iloc[0]
    assert mp["recovery of held-out"] == pytest.approx(0.4882) and mp["training compositions"] == 57_530
    assert math.isnan(mp["new distinct (in neither set)"]) and math.isnan(mp.novelty)   # not in the review's table
    text = comparison.markdown(table, percent=comparison.TABLE2_PERCENT)
    assert "| MatGAN (paper) | ICSD | 25323 | 2813 | 2000000 | – | 59.54 | 60.13 | – | 1983231 | – |" in text   # as printed
    assert "<NA>" not in text and "nan" not in text


def test_published_new_samples_reproduce_the_papers_count():
    """The paper's "new samples" = generated − recovered; checked against its own three rows."""
    from matlib import published
    for row in published.table2().dropna(subset=["training_compositions"]).to_dict("records"):
        recovered = {"recovered_training": round(row["training_compositions"] * row["recovery_training"]),
                     "recovered_held_out": round(row["held_out_compositions"] * row["recovery_held_out"])}
        assert abs(published.new_samples({"generated_samples": row["generated_samples"], **recovered})
                   - row["new_samples"]) <= 2, row["dataset"]                # percentages are rounded to 0.01


def test_structure_table_reads_the_datasets_own_property_distance(tmp_path):
    write(tmp_path, "04_diffusion", {"generation": {
        "mp_20": {"struct_valid": 1.0, "wdist_prop:band_gap": 9.9, "wdist_prop:formation_energy_per_atom": 0.17},
        "carbon_24": {"struct_valid": 1.0}}})
    table = comparison.structure_table(comparison.collect(tmp_path), with_published=False)
    assert list(table.method) == ["joint diffusion (ours)"] * 2
    mp = table[table.dataset == "mp_20"].iloc[0]
    assert mp.property == "formation_energy_per_atom" and mp.wdist_prop == pytest.approx(0.17)
    carbon = table[table.dataset == "carbon_24"].iloc[0]
    assert carbon.property is None and math.isnan(carbon.wdist_prop)
    published_rows = comparison.structure_table(comparison.collect(tmp_path))
    diffcsp = published_rows[(published_rows.method == "DiffCSP (paper)") & (published_rows.dataset == "carbon_24")]
    assert diffcsp.iloc[0].property == "energy_per_atom" and diffcsp.iloc[0].wdist_prop == pytest.approx(0.082)
    assert comparison.tables._property_label("carbon_24", float("nan")) is None    # no number, no property name


def test_task_names_match_the_notebooks_labels():
    assert comparison.task_name("perov_5", "heat_ref", 0.5) == "Perov-5 heat_ref 0.5 eV/atom"
    assert comparison.task_name("mp_20", "band_gap", 3.0) == "band gap 3 eV"
    assert comparison.task_name("mp_20", "formation_energy_per_atom", -2.0) == "formation energy -2 eV/atom"


def test_markdown_prints_percentages_and_gaps(root):
    table = comparison.targeted_table(comparison.collect(root))
    text = comparison.markdown(table[["method", "success_rate", "seconds_per_1000_successes"]],
                               percent=("success_rate",))
    lines = text.splitlines()
    assert lines[0] == "| method | success_rate | seconds_per_1000_successes |"
    assert "| bird swarm, box ±6 | 38.0 | 52.6 |" in lines and "| random prior | 0.0 | – |" in lines
    assert comparison.markdown(table.iloc[:0]) == "(no rows)\n"


def test_markdown_never_prints_nan(root):
    table = comparison.structure_table(comparison.collect(root))
    text = comparison.markdown(table, percent=("cov_p",))
    assert "nan" not in text.lower() and "| CDVAE (paper) | perov_5 |" in text and "| 98.46 |" in text


def test_rates_carry_their_sample_count_and_standard_error():
    from pathlib import Path

    committed = Path(__file__).resolve().parents[1] / "docs" / "results" / "full"
    table1 = comparison.structure_table(comparison.collect(committed))
    ours = table1[table1.method.str.endswith("(ours)")]
    assert len(ours) and ours.n_generated.notna().all() and (ours.n_generated >= 1000).all()
    assert ours.n_reference.notna().all() and (table1[~table1.method.str.endswith("(ours)")].n_generated == 10_000).all()
    assert " ± " in comparison.report(comparison.collect(committed))
    frame = pd.DataFrame({"method": ["a", "published"], "valid": [0.9, 0.95], "n": [100, None]})
    text = comparison.markdown(frame, percent=("valid",), errors={"valid": "n"})
    assert "| a | 90.0 ± 3.0 | 100 |" in text and "| published | 95.0 | – |" in text


def test_review_layout_of_table3_has_bulk_modulus_and_magnetic_density_beside_mattergen():
    from pathlib import Path

    from matlib.comparison.review_table import review_table

    committed = Path(__file__).resolve().parents[1] / "docs" / "results" / "full"
    targeted = comparison.targeted_table(comparison.collect(committed))
    table = review_table(targeted).set_index("method")
    ours = table.loc["adapters + guidance, γ = 2 (ours, 06)"]
    expected = targeted[(targeted.notebook == "06_adapters_guidance") & (targeted.method == "bulk modulus, adapters, γ = 2")]
    assert ours["bulk modulus K"].startswith(f"{100 * expected.success_rate.iloc[0]:.1f} % (>= 200 GPa, [200, 1000]")
    assert ours["magnetic density M"] != "–" and "oracle" in ours["formation energy"]
    mattergen = table.loc["MatterGen (paper)"]      # three printed rows of the review folded into one
    assert (mattergen["magnetic density M"], mattergen["bulk modulus K"], mattergen["band gap"]) == ("48.7 %", "55.4 %", "31.6 %")
    # ablations and two-property tasks stay in the full table
    assert not any("&" in cell or "10 % labels" in cell for cell in table.astype(str).to_numpy().ravel())

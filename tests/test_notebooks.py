"""Every notebook runs end to end with profile=smoke, and its results file says what it did."""
import json
import math
from pathlib import Path

import pytest

from matlib.io import read_extxyz
from matlib.results import read_results
from matlib.course.runner import execute, notebooks

NOTEBOOKS = notebooks(Path(__file__).resolve().parents[1] / "notebooks")
SMOKE_TIMEOUT_S = 600  # per cell; the 2-minute smoke goal is a benchmark, not a test


def check_00(metrics, out_dir):
    for name, row in metrics["datasets"].items():
        assert row["kept"] == row["rows_read"] > 0 and row["skipped"] == 0, name
    nl = metrics["neighbour_list"]
    assert nl["identical_edge_sets"] and nl["edges_torch"] == nl["edges_pymatgen"] > 0
    assert nl["max_distance_error_A"] < 1e-5
    assert metrics["round_trip_ok"]
    assert 0.3 < metrics["mp20_zero_gap_share"] < 0.7
    assert (out_dir / "crystals.extxyz").stat().st_size > 0


def check_01(metrics, out_dir):
    judge = metrics["judges"]["mp_20/formation_energy_per_atom"]
    assert judge["GNN MAE"] < judge["mean-baseline MAE"]  # even a 40-step judge beats the mean
    own, bad = metrics["suite"]["self"]["metrics"], metrics["suite"]["random"]["metrics"]
    assert own["cov_r"] == own["cov_p"] == 1.0 and own["struct_valid"] == 1.0
    assert bad["cov_p"] < 0.5 and bad["valid"] < own["valid"]
    assert (out_dir / "random_crystals.extxyz").stat().st_size > 0


def check_04(metrics, out_dir):
    assert max(metrics["symmetry_checks"].values()) < 1e-4  # invariances hold by construction
    gen = metrics["generation"][metrics["dataset"]]
    assert 0 <= gen["valid"] <= min(gen["struct_valid"], gen["comp_valid"]) <= 1
    assert gen["struct_valid"] > 0.5  # even a 40-step model keeps atoms apart in a sensible cell
    assert metrics["sampling"]["n"] == len(read_extxyz(out_dir / "generated.extxyz"))
    from matlib.diffusion import store
    reloaded, _ = store.load(out_dir / "checkpoint" / metrics["dataset"])  # the saved model rebuilds itself
    assert sum(p.numel() for p in reloaded.parameters()) == metrics["model"]["parameters"]
    shares = list(metrics["element_mix"]["largest_shares"].values())   # largest first, shares of all atoms
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1 + 1e-9
    assert 0 <= metrics["element_mix"]["distance_to_train"] <= 1


def check_02(metrics, out_dir):
    from matlib.cdvae import store
    gen = metrics["generation"][metrics["dataset"]]
    assert 0 <= gen["valid"] <= min(gen["struct_valid"], gen["comp_valid"]) <= 1
    assert 0 <= metrics["reconstruction"]["match_rate"] <= 1 and metrics["reconstruction"]["n"] > 0
    for row in metrics["steps_sweep"]:                      # every level gets the same number of steps
        assert row["decoder_calls"] % row["steps_per_level"] == 0
    assert metrics["sampling"]["n"] == len(read_extxyz(out_dir / "generated.extxyz"))
    timings = read_results(out_dir / "results.json")["timings_s"]   # where a run's minutes went
    stages = {k: v for k, v in timings.items() if k.startswith("evaluate_")}
    assert "evaluate_fingerprints" in stages and 0 < sum(stages.values()) <= timings["evaluation"]
    assert timings["sweep"] + timings["evaluation"] + timings["training"] < timings["total"]
    reloaded, ckpt = store.load(out_dir / "checkpoint" / metrics["dataset"])
    assert sum(p.numel() for p in reloaded.parameters()) == metrics["model"]["parameters"]
    assert ckpt.step == metrics["model"]["train_steps"]
    if not metrics["model"]["loaded_checkpoint"]:                 # a later run can resume this state
        from matlib import checkpoints
        state = checkpoints.load(out_dir / "training_state" / metrics["dataset"])
        # a warm-started run's state counts its own steps only
        assert state.step == ckpt.step - metrics["model"]["steps_before_warm_start"] and "optimizer" in state.manifest
        assert 0 <= metrics["model"]["resumed_from"] <= metrics["model"]["train_steps"]


def check_03(metrics, out_dir):
    import pandas as pd
    import torch
    from matlib import checkpoints
    from matlib.matgan.wgan import Generator
    t = metrics["table2"]
    assert t["generated_samples"] >= t["usable_samples"] >= t["distinct_generated"] > 0  # 300 steps make formulas
    # every distinct formula is a recovered training one, a recovered held-out one, or new
    assert t["distinct_generated"] == t["recovered_training"] + t["recovered_held_out"] + t["new_compositions"]
    assert t["uniqueness"] == pytest.approx(t["distinct_generated"] / t["usable_samples"])
    assert t["novelty"] == pytest.approx(1 - t["recovered_training"] / t["distinct_generated"])
    for key in ("recovery_training", "recovery_held_out", "novelty", "uniqueness", "chemically_valid"):
        assert 0 <= t[key] <= 1, key
    for shares in metrics["smact"].values():
        assert 0 <= shares["chemically_valid"] <= min(shares["charge_neutral"], shares["cdvae_comp_valid"]) <= 1
    assert 0.4 < metrics["smact"]["training formulas (val)"]["chemically_valid"] < 0.8  # SMACT screen on MP-20
    export = pd.read_csv(out_dir / "generated_compositions.csv.gz")
    assert len(export) == export.formula.nunique() == t["distinct_generated"]
    assert export.samples.sum() == t["usable_samples"]
    assert export.chemically_valid.mean() == pytest.approx(t["chemically_valid"])
    stem = out_dir / "checkpoint" / "mp_20__generator"  # smoke trains, so it saves
    assert (out_dir / "checkpoint" / "mp_20__generator.safetensors").stat().st_size < 1_000_000
    ckpt = checkpoints.load(stem)
    generator = ckpt.load_into(Generator(**{k: tuple(v) if isinstance(v, list) else v
                                            for k, v in ckpt.config["generator"].items()}))
    assert sum(p.numel() for p in generator.parameters()) == metrics["generator"]["parameters"]
    assert ckpt.step == metrics["generator"]["steps"] and metrics["generator"]["checkpoint_agreement"] > 0.95
    assert torch.isfinite(generator.eval().sample(8)).all()


def check_07(metrics, out_dir):
    import numpy as np
    from ase.io import read
    retention = metrics["retention"]
    assert {"kagome", "lieb"} <= set(retention)
    for name, row in retention.items():
        assert row["motif kept after sampling"] == 1.0, name        # imposed exactly at the last step
        assert row["samples"] == metrics["sampling"][name]["n"] > 0
        assert 0 <= row["passes screening (1-3)"] <= 1
        counts = [stage["count"] for stage in metrics["funnel"][name]]
        assert counts[0] == row["samples"] and all(a >= b - 1e-9 for a, b in zip(counts, counts[1:])), name
    frames = read(out_dir / "generated.extxyz", index=":")
    assert len(frames) == sum(row["samples"] for row in retention.values())
    assert {f.info["lattice"] for f in frames} == set(retention)
    kagome = [f for f in frames if f.info["lattice"] == "kagome"]
    assert all(f.get_chemical_symbols()[:3] == [f.info["motif_element"]] * 3 for f in kagome)
    scale = metrics["at_scale"]                 # section 6: every crystal screened, flags saved
    counts = [stage["count"] for stage in scale["funnel"]]
    assert counts[0] == scale["crystals"] > 0 and all(a >= b for a, b in zip(counts, counts[1:]))
    assert scale["crystals_per_second_per_worker"] > 0 and scale["workers"] >= 1
    flags = np.load(out_dir / "at_scale_flags.npz")
    assert len(flags["passes_screen"]) == scale["crystals"] and flags["passes_screen"].sum() == counts[-1]
    sample = read(out_dir / "at_scale_sample.extxyz", index=":")
    assert 0 < len(sample) <= min(1000, scale["crystals"])
    assert all(f.get_chemical_symbols()[:3] == [f.get_chemical_symbols()[0]] * 3 for f in sample)   # the motif


def check_06(metrics, out_dir):
    from matlib import paths
    from matlib.diffusion import store
    assert metrics["zero_init_max_difference"] == {"with a condition": 0.0, "without a condition": 0.0}
    rows = metrics["success"]
    sweep = {r["gamma"] for r in rows if r["method"] == "band gap, adapters"}
    assert sweep == {0.0, 1.0, 2.0, 4.0}
    for r in rows:
        assert r["n"] > 0 and r["success_rate"] == pytest.approx(r["n_success"] / r["n"])
        assert 0 <= r["success_rate"] <= r["valid"] <= 1          # success needs validity
    main = [r for r in rows if r["method"] == "band gap, adapters" and r["gamma"] == metrics["chosen_gamma"]][0]
    assert len(read_extxyz(out_dir / "generated_band_gap.extxyz")) == main["n"]
    base, _ = store.load(paths.checkpoints_dir() / "diffusion" / "mp_20")
    model, ckpt = store.load_adapters(out_dir / "checkpoint" / "mp_20__band_gap", base)
    assert ckpt.config["property"] == "band_gap"
    assert sum(p.numel() for p in model.adapters.parameters()) == metrics["base_model"]["adapter_parameters"]


def check_05(metrics, out_dir):
    from matlib.cdvae import store
    rows = metrics["success"]
    methods = {r["method"] for r in rows}
    assert {"Con-CDVAE", "Con-CDVAE, no target", "Con-CDVAE, no down-selection", "Con-CDVAE, random-row fill"} <= methods
    for r in rows:
        assert r["n"] > 0 and r["success_rate"] == pytest.approx(r["n_success"] / r["n"])
        assert 0 <= r["success_rate"] <= r["valid"] <= 1 and 0 <= r["data_share"] <= 1
    ours = [r for r in rows if r["method"] == "Con-CDVAE"]
    assert [r["task"] for r in ours] == list(metrics["windows"])         # one row per task, every task
    assert 0 < len(read_extxyz(out_dir / "generated.extxyz")) <= sum(r["n"] for r in ours)
    stage1, _ = store.load_conditional(out_dir / "checkpoint" / f"{metrics['dataset']}_stage1")
    prior, _ = store.load_prior(out_dir / "checkpoint" / f"{metrics['dataset']}_prior")
    assert [c.name for c in stage1.conditions] == [c["name"] for c in metrics["conditions"]]
    assert prior.config.latent == stage1.config.cdvae.latent
    assert all(p["predicted_std"] >= 0 for p in metrics["prior_probe"])
    # the oracle's batch, judged after sampling, reaches every row of a formation-energy task
    config = read_results(out_dir / "results.json")["config"]
    for r in rows:
        if {"heat_ref", "formation_energy_per_atom"} & set(metrics["windows"][r["task"]]):
            assert r["n_oracle"] == min(config["oracle_samples"], r["n"]) and 0 <= r["success_oracle"] <= 1


def check_08(metrics, out_dir):
    budget = metrics["budget"]
    race = metrics["race"]
    methods = {row["method"] for row in race}
    assert {"random prior", "gradient descent on z", "bird swarm, box ±6", "bird swarm, box ±6, no spread term"} <= methods
    for method in methods:                        # every search decodes the same crystals per round
        rows = sorted((r for r in race if r["method"] == method), key=lambda r: r["round"])
        assert [r["decoded"] for r in rows] == [budget["birds"] * (k + 1) for k in range(budget["rounds"])]
        assert all(0 <= r["success"] <= budget["birds"] and 0 <= r["cumulative_success_share"] <= 1 for r in rows)
    for row in metrics["final_round"]:
        assert row["n"] == budget["birds"] and 0 <= row["success_rate"] <= row["valid"] <= 1
    for toy in metrics["toy_functions"]:
        assert toy["swarm_best"] < toy["random_best"], toy["function"]
    assert len(read_extxyz(out_dir / "swarm_candidates.extxyz")) == budget["birds"]
    assert metrics["surrogate"]["holdout_mae"] > 0 and metrics["surrogate"]["members"] > 1
    assert metrics["surrogate"]["spread_on_train_posteriors"] > 0


def check_09(metrics, out_dir):
    status = {row["notebook"]: row["status"] for row in metrics["notebooks"]}
    assert status["05_con_cdvae"] != "missing" and status["08_latent_swarm"] != "missing"   # smoke re-runs them
    assert "Perov-5 heat_ref 0.5 eV/atom" in metrics["shared_tasks"]
    rows = metrics["table3"]
    assert {r["notebook"] for r in rows} >= {"05_con_cdvae", "08_latent_swarm"}
    assert all(r["profile"] == "smoke" and r["hardware"] for r in rows)          # every row says where it ran
    report = (out_dir.parent / "comparison.md").read_text()
    assert "Table 3" in report and "bird swarm, box ±6" in report and "Con-CDVAE" in report
    best = metrics["best_candidates"]             # both re-runs write each crystal's target
    assert best and {r["notebook"] for r in best} <= {"05_con_cdvae", "08_latent_swarm"}
    assert all(r["rule"] == "nearest the target" and "target_heat_ref" in r for r in best)
    for stem in {r["notebook"] for r in best}:
        formulas = [r["formula"] for r in best if r["notebook"] == stem]
        assert len(formulas) == len(set(formulas))
    assert (out_dir / "best_candidates.extxyz").exists() and (out_dir / "best_candidates.png").exists()


def check_10(metrics: dict, out_dir: Path) -> None:
    """PODGen: the model's Table 1 row, both tasks with the chains and their baseline, the toy check."""
    row = metrics["generation"]["mp_20"]
    assert 0 <= row["struct_valid"] <= 1 and metrics["sampling"]["n"] == metrics["sampling"]["built"] + sum(
        metrics["sampling"]["not_built"].values())
    assert metrics["toy_total_variation"] < 0.05
    methods = {(r["task"], r["method"]) for r in metrics["success"]}
    assert {m for _, m in methods} == {"PODGen chains", "autoregressive, unconstrained"} and len(methods) == 4
    assert all(0 <= r["acceptance"]["coordinates"] <= 1 for r in metrics["chains"].values())
    assert (out_dir / "generated.extxyz").stat().st_size > 0


CHECKS = {"00_crystals_and_data": check_00, "01_periodic_gnn": check_01, "02_cdvae": check_02,
          "03_matgan": check_03, "04_diffusion": check_04, "05_con_cdvae": check_05,
          "06_adapters_guidance": check_06, "07_scigen": check_07,
          "08_latent_swarm": check_08, "09_comparison": check_09, "10_podgen": check_10}


def all_numbers_finite(value) -> bool:
    if isinstance(value, dict):
        return all(all_numbers_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(all_numbers_finite(v) for v in value)
    return not (isinstance(value, float) and not math.isfinite(value))


@pytest.mark.notebooks
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_smoke(notebook, tmp_path):
    results_path = execute(notebook, tmp_path, profile="smoke", timeout=SMOKE_TIMEOUT_S)
    res = read_results(results_path)
    assert res["notebook"] == notebook.stem and res["profile"] == "smoke" and res["device"] == "cpu"
    assert res["train_split"] and res["eval_split"], "results must name the training and evaluation splits"
    assert res["metrics"] and all_numbers_finite(res["metrics"])
    for label, file in res["files"].items():
        assert Path(file).exists(), f"{label}: {file} was promised but not written"
    executed = json.loads((tmp_path / notebook.name).read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    figures = list((results_path.parent / "figures").glob("*.png")) + list(results_path.parent.glob("*.png"))
    assert figures and all(f.stat().st_size > 1000 for f in figures), "main figures are kept as PNG files"
    assert notebook.stem in CHECKS, f"add a results check for {notebook.stem} to CHECKS"
    CHECKS[notebook.stem](res["metrics"], results_path.parent)


@pytest.mark.notebooks
def test_cdvae_notebook_trains_on_from_a_warm_start(tmp_path):
    """A second call on another machine: notebook 02 trains on from a checkpoint's weights."""
    from matlib import paths
    from matlib.cdvae import store
    stem = paths.checkpoints_dir() / "cdvae" / "perov_5"
    _, before = store.load(stem)
    notebook = next(nb for nb in NOTEBOOKS if nb.stem == "02_cdvae")
    res = read_results(execute(notebook, tmp_path, profile="smoke", parameters={"warm_start": str(stem)},
                               timeout=SMOKE_TIMEOUT_S))
    model = res["metrics"]["model"]
    assert model["warm_start"] == str(stem) and model["steps_before_warm_start"] == before.step
    assert model["train_steps"] == before.step + res["config"]["train_steps"]    # smoke's steps, counted on
    check_02(res["metrics"], tmp_path / "02_cdvae")            # the saved model is the committed architecture
    _, after = store.load(tmp_path / "02_cdvae" / "checkpoint" / "perov_5")
    assert after.metrics["dataset"] == "perov_5" and len(after.manifest["extra"]["history"]) > len(
        before.manifest["extra"]["history"])


@pytest.mark.notebooks
def test_scigen_notebook_screens_on_a_dask_cluster_with_the_same_funnel(tmp_path):
    """Notebook 07 with cluster="local": screening and relaxation on a Dask LocalCluster, same numbers."""
    pytest.importorskip("distributed")
    notebook = next(nb for nb in NOTEBOOKS if nb.stem == "07_scigen")
    (tmp_path / "pool").mkdir()
    (tmp_path / "dask").mkdir()
    pooled = read_results(execute(notebook, tmp_path / "pool", profile="smoke", timeout=SMOKE_TIMEOUT_S))
    dask = read_results(execute(notebook, tmp_path / "dask", profile="smoke", parameters={"cluster": "local"},
                                timeout=SMOKE_TIMEOUT_S))
    assert dask["metrics"]["retention"] == pooled["metrics"]["retention"]
    assert dask["metrics"]["funnel"] == pooled["metrics"]["funnel"]
    speed = dask["metrics"]["screening_throughput"]
    assert speed["executor"] == "Dask (local)" and speed["workers"] >= 1 and speed["crystals_per_second_per_worker"] > 0

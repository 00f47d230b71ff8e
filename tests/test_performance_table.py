"""The results document's performance tables come from the benchmarks' JSON files."""
import json

from matlib.course.performance import performance_section


def test_each_variant_gets_its_ratio_to_the_plain_row_of_the_same_run(tmp_path):
    rows = [{"crystals": 100, "layout": "edges", "compiled": False, "seconds": 4.0, "crystals_per_second": 25.0,
             "device": "GPU"},
            {"crystals": 100, "layout": "dense", "compiled": "default", "seconds": 1.0, "crystals_per_second": 100.0,
             "device": "GPU"}]
    (tmp_path / "bench_diffusion_sampling.json").write_text(json.dumps(rows))
    (tmp_path / "bench_diffusion_training.json").write_text(json.dumps(
        [{"layout": "edges", "compiled": False, "seconds": 2.0, "steps_per_second": 50.0, "device": "GPU"},
         {"layout": "edges", "compiled": True, "seconds": 1.0, "steps_per_second": 75.0, "device": "GPU"},
         {"layout": "edges", "compiled": False, "optimizer": "fused", "seconds": 1.0, "steps_per_second": 70.0,
          "device": "GPU"}]))
    text = performance_section(tmp_path)
    assert "| 100 | dense pairs, torch.compile | 1.0 | 100.0 | 4.00 | GPU |" in text
    assert "| – | edge list, torch.compile | 1.0 | 75.0 | 1.50 | GPU |" in text
    assert "| – | edge list, eager, fused AdamW | 1.0 | 70.0 | 1.40 | GPU |" in text   # the plain row stays foreach
    assert "bench_diffusion_compile.json" not in text          # absent files are left out


def test_evaluation_costs_and_the_crystalnn_floor_come_from_the_benchmark_file(tmp_path):
    assert "Evaluation, metric by metric" not in performance_section(tmp_path)
    report = {"dataset": "mp_20", "workers": [1, 2],
              "results": {"CrystalNN fingerprint": {"n": 200, "1": {"seconds": 26.0, "per_second": 7.69},
                                                    "2": {"seconds": 14.0, "per_second": 14.29}},
                          "coverage (N x N, from fingerprints)": {"n": 200, "1": {"seconds": 0.1, "per_second": 2000.0}}},
              "machine": {"affinity": 2, "platform": "Linux"},
              "crystalnn_profile": {"structures": 200, "atoms_mean": 9.5, "seconds_per_structure": 0.13,
                                    "shares_under_cprofile": {"neighbours": 0.34, "order parameters": 0.66},
                                    "floor_10000_on_16_cpus_s": 81.3}}
    (tmp_path / "bench_evaluation_cpu.json").write_text(json.dumps(report))
    text = performance_section(tmp_path)
    assert "| CrystalNN fingerprint | 200 | 26.00 (7.69) | 14.00 (14.29) |" in text
    assert "| coverage (N x N, from fingerprints) | 200 | 0.10 (2,000.0) | – |" in text
    assert "neighbours 34 %; order parameters 66 %" in text and "at least 81.3 s" in text


def test_fingerprint_engines_table_gives_the_ratio_agreement_and_evaluate_laps(tmp_path):
    report = {"command": "benchmarks/bench_fingerprints.py --workers 16", "dataset": "mp_20", "split": "test", "workers": 16, "machine": {"cpus": 16},
              "engines": {"seconds": {"matminer": 90.0, "matlib": 36.0}, "per_second": {"matminer": 100.5, "matlib": 251.3},
                          "agreement": {"crystals": 9046, "largest_difference": 1.2e-13, "beyond_1e-9": 0,
                                        "failed_by_one_engine_only": 0}},
              "evaluate": {"generated": 10000, "reference": 9046, "seconds": 52.5,
                           "laps": {"validity": 1.5, "fingerprints": 45.25}}}
    (tmp_path / "bench_fingerprints_16cpu.json").write_text(json.dumps(report))
    text = performance_section(tmp_path)
    assert "| matminer (pymatgen's loops) | 90.0 | 100.5 | 1.00 |" in text
    assert "| matlib (`evaluation.crystalnn`, NumPy) | 36.0 | 251.3 | 2.50 |" in text
    assert "(`benchmarks/bench_fingerprints.py --workers 16`; `bench_fingerprints_16cpu.json`)" in text
    assert "9,046 mp_20 `test` crystals on 16 worker processes" in text and "1.2e-13" in text
    assert "`evaluate()` on 10,000 crystals" in text and "fingerprints 45.2 s" in text and "52.5 s" in text


def test_screen_at_scale_row_gives_both_sides_rates(tmp_path):
    report = {"crystals": 1000000, "steps": 50, "compiled": True, "generated_per_second": 6500.4,
              "crystals_per_second_per_worker": 2100.7, "workers": 15, "crystals_per_second": 6100.2,
              "wall_seconds": 163.94, "device": "NVIDIA H100 80GB HBM3"}
    assert "SCIGEN's screen at scale" not in performance_section(tmp_path)
    (tmp_path / "bench_scigen_at_scale.json").write_text(json.dumps(report))
    text = performance_section(tmp_path)
    assert "| 1,000,000 | 50 | torch.compile | 6,500 | 2,101 | 15 | 6,100 | 163.9 | NVIDIA H100 80GB HBM3 |" in text


def test_cdvae_training_routes_get_their_ratio_to_the_notebook_route_of_the_same_dataset(tmp_path):
    assert "Training notebook 02's" not in performance_section(tmp_path)
    row = {"steps": 200, "batch_size": 2048, "model_size": "large", "split": "val", "device": "GPU"}
    rows = [{**row, "dataset": "perov_5", "variant": "cached", "seconds": 10.0, "steps_per_second": 20.0},
            {**row, "dataset": "perov_5", "variant": "captured", "seconds": 2.5, "steps_per_second": 80.0,
             "one_batch_steps_per_second": 100.0},
            {**row, "dataset": "mp_20", "variant": "cached", "seconds": 20.0, "steps_per_second": 10.0},
            {**row, "dataset": "mp_20", "variant": "captured", "seconds": 10.0, "steps_per_second": 20.0,
             "one_batch_steps_per_second": 25.0}]
    (tmp_path / "bench_cdvae_training.json").write_text(json.dumps(rows))
    text = performance_section(tmp_path)
    assert "| perov_5 (`val`) | packed batches, one CUDA graph a step | 2.5 | 80.0 | 4.00 | 100.0 | GPU |" in text
    assert "| mp_20 (`val`) | packed batches, one CUDA graph a step | 10.0 | 20.0 | 2.00 | 25.0 | GPU |" in text
    assert "| mp_20 (`val`) | notebook route: graphs built once, eager step | 20.0 | 10.0 | 1.00 | – | GPU |" in text
    assert "Model `large`, 2,048 crystals a batch" in text

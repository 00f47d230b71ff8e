"""The results document's oracle section shows what its JSON files hold, and nothing when they are absent."""
import json
import shutil
from pathlib import Path

from matlib.course.oracle_section import oracle_section

RUNS = Path(__file__).resolve().parents[1] / "docs" / "results" / "runs"


def _bench(n: int, predict_rate: float, relax_rate: float) -> dict:
    timing = {"predict": {"seconds": n / predict_rate, "structures_per_s": predict_rate, "ok": n},
              "relax": {"seconds": n / relax_rate, "structures_per_s": relax_rate, "steps": 100, "fmax": 0.1,
                        "converged": n - 3, "failed": 0, "mean_steps": 41.5}}
    network = {"chgnet_predict_graph": {"seconds": 2.0, "structures_per_s": 500.0},
               "loop_free_batches": {"seconds": 0.5, "structures_per_s": 2000.0}, "speedup": 4.0}
    return {"n": n, "atoms_mean": 9.4, "batch_size": 256, "graphs_on_14_processes": timing, "network_efs": network,
            "machine": {"device": "cuda", "cpus": 16, "affinity": 16, "gpu": "NVIDIA H100 80GB HBM3"}}


def test_section_quotes_the_validation_file_and_each_benchmark_row(tmp_path):
    assert oracle_section(tmp_path) == ""                     # no validation file: no section
    shutil.copy(RUNS / "oracle_validation.json", tmp_path)
    validation = json.loads((RUNS / "oracle_validation.json").read_text())
    text = oracle_section(tmp_path)
    assert f"{validation['hull']['fitted']['mae']:.3f}" in text and "Throughput" not in text
    (tmp_path / "bench_oracle_cuda.json").write_text(json.dumps(_bench(1000, 812.5, 23.75)))
    row = next(line for line in oracle_section(tmp_path).splitlines() if "bench_oracle_cuda.json" in line)
    assert "NVIDIA H100 80GB HBM3" in row and "1,000 (9.4 atoms)" in row and "in 14 processes" in row
    assert "| 812.5 |" in row and "23.75 (≤ 100 steps, mean 42; 997 converged)" in row
    assert "`predict_graph` 500.0 crystals/s, `matlib.oracle.fast` 2,000.0 crystals/s (4.00x)" in oracle_section(tmp_path)
    assert "received from a worker" not in oracle_section(tmp_path)          # an older file: no such line
    with_transfer = {**_bench(1000, 812.5, 23.75), "graph_transfer": {
        "crystal_graph": {"unpickle_ms": 0.75, "kilobytes": 28.0}, "graph_arrays": {"unpickle_ms": 0.015, "kilobytes": 26.0},
        "speedup": 50.0}, "crystal_send": {"structure": {"make_and_pickle_ms": 0.26}, "cell": {"make_and_pickle_ms": 0.05},
                             "speedup": 5.2}}
    (tmp_path / "bench_oracle_cuda.json").write_text(json.dumps(with_transfer))
    assert "`CrystalGraph` 0.75 ms, `GraphArrays` 0.015 ms (50x)" in oracle_section(tmp_path)
    assert "a pymatgen `Structure` 0.26 ms, a `Cell` of arrays 0.05 ms (5x)" in oracle_section(tmp_path)

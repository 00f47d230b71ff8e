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
         {"layout": "edges", "compiled": True, "seconds": 1.0, "steps_per_second": 75.0, "device": "GPU"}]))
    text = performance_section(tmp_path)
    assert "| 100 | dense pairs, torch.compile | 1.0 | 100.0 | 4.00 | GPU |" in text
    assert "| – | edge list, torch.compile | 1.0 | 75.0 | 1.50 | GPU |" in text
    assert "bench_diffusion_compile.json" not in text          # absent files are left out

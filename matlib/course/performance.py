"""The results document's performance tables, generated from the benchmarks' JSON files under
`docs/results/runs/` (each benchmark times all its variants in one run on one machine)."""
from __future__ import annotations

import json
from pathlib import Path

# file -> (what it measures, the command that wrote it, the speed column, its unit)
BENCHMARKS = {
    "bench_diffusion_compile.json": ("Sampling the committed MP-20 diffusion model, 200 steps",
                                     "benchmarks/bench_diffusion_sampling.py --compile",
                                     "crystals_per_second", "crystals / s"),
    "bench_diffusion_sampling.json": ("Sampling the committed MP-20 diffusion model, 200 steps: edge list "
                                      "against dense pairs", "benchmarks/bench_diffusion_sampling.py --dense --compile",
                                      "crystals_per_second", "crystals / s"),
    "bench_diffusion_training.json": ("Training notebook 04's `full` diffusion model (batches of 256)",
                                      "benchmarks/bench_diffusion_training.py --dense --compile",
                                      "steps_per_second", "steps / s"),
}


def _variant(row: dict) -> str:
    layout = {"edges": "edge list", "dense": "dense pairs"}[row.get("layout", "edges")]
    return f"{layout}, {'torch.compile' if row.get('compiled') else 'eager'}"


def _table(rows: list[dict], speed: str, unit: str) -> list[str]:
    lines = [f"| crystals | network | seconds | {unit} | × the plain edge list | device |", "|---|---|---|---|---|---|"]
    for row in rows:
        plain = next(r for r in rows if r.get("crystals") == row.get("crystals")
                     and r.get("layout", "edges") == "edges" and not r.get("compiled"))
        crystals = f"{row['crystals']:,}" if "crystals" in row else "–"
        lines.append(f"| {crystals} | {_variant(row)} | {row['seconds']} | {row[speed]:,} | "
                     f"{row[speed] / plain[speed]:.2f} | {row['device']} |")
    return lines


def performance_section(runs: Path) -> str:
    lines = ["## Performance", "",
             "Each benchmark times its variants in one run on one machine; the ratio is to the plain row "
             "(edge list, eager) of the same run. Sources: `docs/results/runs/`."]
    for name, (what, command, speed, unit) in BENCHMARKS.items():
        path = runs / name
        if path.exists():
            lines += ["", f"{what} (`{command}`; `{name}`):", "", *_table(json.loads(path.read_text()), speed, unit)]
    return "\n".join(lines) + "\n"

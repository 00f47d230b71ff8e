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
    "bench_diffusion_sampling_fused.json": ("Sampling the committed MP-20 diffusion model, 200 steps: edge list "
                                            "against the fused pair-message kernel (Triton)",
                                            "benchmarks/bench_diffusion_sampling.py --sizes 10000 --fused --compile",
                                            "crystals_per_second", "crystals / s"),
    "bench_diffusion_training.json": ("Training notebook 04's `full` diffusion model (batches of 256)",
                                      "benchmarks/bench_diffusion_training.py --dense --compile",
                                      "steps_per_second", "steps / s"),
    "bench_diffusion_training_fused.json": ("Training notebook 04's `full` diffusion model (batches of 256): AdamW's "
                                            "default (foreach) against its fused kernel",
                                            "benchmarks/bench_diffusion_training.py --compile --fused",
                                            "steps_per_second", "steps / s"),
    "bench_diffusion_training_captured.json": ("Training notebook 04's `full` diffusion model (batches of 256): "
                                               "packed fixed-shape batches, the whole step replayed as one CUDA "
                                               "graph (notebook 04's GPU route)",
                                               "benchmarks/bench_diffusion_training.py --compile --captured",
                                               "steps_per_second", "steps / s"),
}


def _variant(row: dict) -> str:
    layout = {"edges": "edge list", "dense": "dense pairs", "packed": "packed batches",
              "fused": "fused pair messages"}[row.get("layout", "edges")]
    fused = {"fused": ", fused AdamW", "captured": ", one CUDA graph a step"}.get(row.get("optimizer"), "")
    return f"{layout}, {'torch.compile' if row.get('compiled') else 'eager'}{fused}"


def _table(rows: list[dict], speed: str, unit: str) -> list[str]:
    lines = [f"| crystals | network | seconds | {unit} | × the plain edge list | device |", "|---|---|---|---|---|---|"]
    for row in rows:
        plain = next(r for r in rows if r.get("crystals") == row.get("crystals")
                     and r.get("layout", "edges") == "edges" and not r.get("compiled")
                     and r.get("optimizer", "foreach") == "foreach")
        crystals = f"{row['crystals']:,}" if "crystals" in row else "–"
        lines.append(f"| {crystals} | {_variant(row)} | {row['seconds']} | {row[speed]:,} | "
                     f"{row[speed] / plain[speed]:.2f} | {row['device']} |")
    return lines


CDVAE_TRAINING = ("bench_cdvae_training.json", "benchmarks/bench_cdvae_training.py --datasets perov_5 mp_20")
CDVAE_ROUTES = {"cached": "notebook route: graphs built once, eager step",
                "packed": "packed batches (graphs too), eager step",
                "captured": "packed batches, one CUDA graph a step",
                "captured-compiled": "packed batches, one CUDA graph a step, decoder compiled",
                "captured-compiled-all": "packed batches, one CUDA graph a step, encoder and decoder compiled"}


def _cdvae_training(rows: list[dict]) -> list[str]:
    """Steps per second of each route, and of one batch replayed (the device's own time)."""
    lines = ["| dataset | route | seconds | steps / s | × the notebook route | one batch replayed: steps / s | "
             "device |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        plain = next(r for r in rows if r["dataset"] == row["dataset"] and r["variant"] == "cached")
        replayed = row.get("one_batch_steps_per_second")
        lines.append(f"| {row['dataset']} (`{row['split']}`) | {CDVAE_ROUTES[row['variant']]} | {row['seconds']} | "
                     f"{row['steps_per_second']} | {row['steps_per_second'] / plain['steps_per_second']:.2f} | "
                     f"{'–' if replayed is None else replayed} | {row['device']} |")
    first = rows[0]
    return lines + ["", f"Model `{first['model_size']}`, {first['batch_size']:,} crystals a batch, "
                        f"{first['steps']} timed steps after 20 warm-up steps."]


EVALUATION = ("bench_evaluation_cpu.json",
              "benchmarks/bench_evaluation.py --n 200 --workers 1 2 --profile-crystalnn 200")


def _evaluation(report: dict) -> list[str]:
    """The evaluation's cost per metric at each worker count, and where CrystalNN's time goes."""
    workers = [str(w) for w in report["workers"]]
    lines = ["| metric | structures | " + " | ".join(f"{w} worker{'s' if w != '1' else ''}: s (structures / s)"
                                                    for w in workers) + " |", "|---|---|" + "---|" * len(workers)]
    for metric, row in report["results"].items():
        cells = [f"{row[w]['seconds']:.2f} ({row[w]['per_second']:,})" if w in row else "–" for w in workers]
        lines.append(f"| {metric} | {row['n']:,} | " + " | ".join(cells) + " |")
    machine = report["machine"]
    lines += ["", f"{report['dataset']} `test` crystals, {machine['affinity']} CPUs ({machine['platform']})."]
    profile = report.get("crystalnn_profile")
    if profile:
        shares = "; ".join(f"{name} {100 * share:.0f} %" for name, share in profile["shares_under_cprofile"].items())
        lines += ["", f"CrystalNN \"ops\" fingerprint in one process: {profile['seconds_per_structure']} s per "
                      f"structure ({profile['structures']} crystals, {profile['atoms_mean']} atoms on average); "
                      f"under cProfile: {shares}. At that cost, 10,000 crystals on 16 CPUs take at least "
                      f"{profile['floor_10000_on_16_cpus_s']} s for this fingerprint alone, even perfectly parallel."]
    return lines


def _fingerprints(report: dict) -> list[str]:
    """matminer's CrystalNN fingerprint against matlib's NumPy one, and evaluate() at scale."""
    engines, agree = report["engines"], report["engines"]["agreement"]
    lines = ["| CrystalNN fingerprint | seconds | crystals / s | × matminer |", "|---|---|---|---|"]
    for engine, label in (("matminer", "matminer (pymatgen's loops)"), ("matlib", "matlib (`evaluation.crystalnn`, NumPy)")):
        lines.append(f"| {label} | {engines['seconds'][engine]} | {engines['per_second'][engine]:,} | "
                     f"{engines['seconds']['matminer'] / engines['seconds'][engine]:.2f} |")
    lines += ["", f"{agree['crystals']:,} {report['dataset']} `{report['split']}` crystals on {report['workers']} "
                  f"worker processes ({report['machine']['cpus']} CPUs). Largest difference of any site-averaged "
                  f"feature between the two: {agree['largest_difference']:.1e}; crystals differing by more than "
                  f"1e-9: {agree['beyond_1e-9']}; failed by one engine only: {agree['failed_by_one_engine_only']}."]
    run = report.get("evaluate")
    if run:
        laps = ", ".join(f"{name.replace('_', ' ')} {seconds:.1f} s" for name, seconds in run["laps"].items())
        lines += ["", f"`evaluate()` on {run['generated']:,} crystals (rattled `test` and `val` crystals standing in "
                      f"for generated ones) against all {run['reference']:,} `test` crystals, their fingerprints "
                      f"cached: {run['seconds']} s ({laps})."]
    return lines


AT_SCALE = ("bench_scigen_at_scale.json",
            "benchmarks/bench_scigen_at_scale.py --crystals 200000 --steps 50 --chunk 50000 --compile")


def _at_scale(report: dict) -> list[str]:
    """Generation on the GPU overlapping the screen on worker processes: each side's rate."""
    return ["| crystals | sampler steps | network | generated / s | screened / s per worker | workers | "
            "whole run / s | seconds | device |", "|---|---|---|---|---|---|---|---|---|",
            f"| {report['crystals']:,} | {report['steps']} | {'torch.compile' if report['compiled'] else 'eager'} | "
            f"{report['generated_per_second']:,.0f} | {report['crystals_per_second_per_worker']:,.0f} | "
            f"{report['workers']} | {report['crystals_per_second']:,.0f} | {report['wall_seconds']:.1f} | "
            f"{report['device']} |"]


def performance_section(runs: Path) -> str:
    lines = ["## Performance", "",
             "Each benchmark times its variants in one run on one machine; the ratio is to the plain row "
             "(edge list, eager) of the same run. Sources: `docs/results/runs/`."]
    for name, (what, command, speed, unit) in BENCHMARKS.items():
        path = runs / name
        if path.exists():
            lines += ["", f"{what} (`{command}`; `{name}`):", "", *_table(json.loads(path.read_text()), speed, unit)]
    name, command = CDVAE_TRAINING
    if (runs / name).exists():
        lines += ["", f"Training notebook 02's `full` CDVAE (`{command}`; `{name}`):", "",
                  *_cdvae_training(json.loads((runs / name).read_text()))]
    name, command = EVALUATION
    if (runs / name).exists():
        lines += ["", f"Evaluation, metric by metric, with `test` crystals playing the generated ones (`{command}`; `{name}`):", "",
                  *_evaluation(json.loads((runs / name).read_text()))]
    name, command = AT_SCALE
    if (runs / name).exists():
        lines += ["", f"SCIGEN's screen at scale, kagome crystals generated in chunks while worker processes screen "
                      f"the previous chunk (`{command}`; `{name}`):", "", *_at_scale(json.loads((runs / name).read_text()))]
    for path in sorted(runs.glob("bench_fingerprints_*.json")):
        report = json.loads(path.read_text())
        lines += ["", f"CrystalNN fingerprints, both engines in one run (`{report['command']}`; `{path.name}`):", "",
                  *_fingerprints(report)]
    return "\n".join(lines) + "\n"

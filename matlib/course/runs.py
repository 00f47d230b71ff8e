"""The main job's runs log and summary: one row per notebook run in `<out>/runs.jsonl`, the latest
run of each notebook with its results, and `<out>/summary.md` read top-down."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..results import RESULTS_NAME, read_results

RUNS_LOG = "runs.jsonl"


def record(out_root: Path, row: dict) -> None:
    with open(out_root / RUNS_LOG, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def recorded_runs(out_root: Path) -> list[dict]:
    """The latest run of each notebook in `out_root`, in notebook order, with its results when it wrote them."""
    path = out_root / RUNS_LOG
    latest = {}
    if path.exists():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                latest[row["notebook"]] = row
            except (json.JSONDecodeError, KeyError, TypeError):   # e.g. a line cut short by a killed run
                warnings.warn(f"{path}:{number}: skipping an unreadable run record")
    rows = []
    for name in sorted(latest):
        row = dict(latest[name])
        results = out_root / name / RESULTS_NAME
        if row["status"] == "ok" and results.exists():
            row["results"] = read_results(results)
        rows.append(row)
    return rows


# The few numbers that say what each notebook did (flattened metric names, shell-style patterns);
# every metric stays in its notebook's results.json.
KEY_METRICS = {
    "00_crystals_and_data": ["datasets.*.kept", "datasets.*.skipped", "neighbour_list.identical_edge_sets",
                             "round_trip_ok"],
    "01_periodic_gnn": ["judges.*.GNN MAE", "judges.*.mean-baseline MAE"],
    "02_cdvae": ["generation.*.struct_valid", "generation.*.comp_valid", "generation.*.cov_r", "generation.*.cov_p",
                 "reconstruction.match_rate", "sampling.n", "evaluation.n_reference", "model.train_steps"],
    "03_matgan": ["table2.recovery_held_out", "table2.novelty", "table2.uniqueness", "table2.chemically_valid",
                  "table2.generated_samples", "generator.steps"],
    "04_diffusion": ["generation.*.struct_valid", "generation.*.comp_valid", "generation.*.cov_r",
                     "generation.*.cov_p", "generation.*.unique_novel", "sampling.n", "evaluation.n_reference",
                     "model.train_steps"],
    "05_con_cdvae": ["predictor_mae.*", "model.stage1_steps", "model.prior_steps", "sampling.n_per_task"],
    "06_adapters_guidance": ["fine_tuning.*.steps", "chosen_gamma", "zero_init_max_difference.*"],
    "07_scigen": ["retention.*.passes screening (1-3)", "sampling.*.n"],
    "08_latent_swarm": ["surrogate.holdout_mae", "budget.*"],
    "09_comparison": ["shared_tasks"],
    "10_podgen": ["generation.*.struct_valid", "generation.*.comp_valid", "generation.*.cov_r", "generation.*.cov_p",
                  "success_ratio.*", "sampling.n", "evaluation.n_reference", "model.train_steps"],
}
MAX_KEY_ROWS = 16


def key_metrics(notebook: str, metrics: dict) -> dict:
    """The notebook's KEY_METRICS that its results hold (the first scalars if it names none)."""
    from fnmatch import fnmatchcase

    flat = flatten(metrics)
    chosen = {k: v for pattern in KEY_METRICS.get(notebook, ()) for k, v in flat.items() if fnmatchcase(k, pattern)}
    if not chosen:                      # a notebook this table does not know (yet)
        chosen = {k: v for k, v in flat.items() if not isinstance(v, (list, dict))}
    return dict(list(chosen.items())[:MAX_KEY_ROWS])


def run_table(rows: list[dict]) -> list[str]:
    lines = ["| notebook | profile | status | minutes | device | train / eval split |", "|---|---|---|---|---|---|"]
    for r in rows:
        res = r.get("results") or {}
        lines.append(f"| {r['notebook']} | {r['profile']} | {r['status']} | {r['seconds'] / 60:.1f} | "
                     f"{res.get('hardware', '-')} | {res.get('train_split') or '-'} / {res.get('eval_split') or '-'} |")
    return lines


def summary_markdown(rows: list[dict], comparison: str | None = None) -> str:
    """The main job read top-down: the comparison, the runs, then a short table per notebook."""
    profiles = sorted({r["profile"] for r in rows})
    lines = ["# Run summary", "",
             f"{len(rows)} notebook(s), profile {', '.join(profiles) or '-'}. Below: "
             f"{'the comparison of the methods (notebook 09), ' if comparison else ''}the runs, then each "
             "notebook's key metrics; every metric is in `<notebook>/results.json`, every figure in "
             "`<notebook>/figures/`.", ""]
    if comparison:
        lines += [("#" + line) if line.startswith("#") else line for line in comparison.strip().splitlines()]
        lines.append("")
    lines += ["## Runs", "", *run_table(rows), "", "## Key metrics"]
    for r in rows:
        metrics = (r.get("results") or {}).get("metrics")
        if metrics:
            lines += ["", f"### {r['notebook']}", "", "| metric | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in key_metrics(r["notebook"], metrics).items()]
    return "\n".join(lines) + "\n"


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts as one level, keys joined with dots (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _fmt(v) -> str:
    if isinstance(v, list) and any(isinstance(item, dict) for item in v):
        return f"{len(v)} rows (see results.json)"     # tables belong to their notebook, not to this overview
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def write_summary(out_root: Path) -> Path:
    comparison = out_root / "comparison.md"          # notebook 09's tables, when it ran
    summary = summary_markdown(recorded_runs(out_root), comparison.read_text() if comparison.exists() else None)
    path = out_root / "summary.md"
    path.write_text(summary)
    return path

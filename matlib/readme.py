"""The README's main-job results, generated from the committed results files so they never drift.

    python -m matlib.readme            # rewrite the generated blocks of README.md from docs/results/
    python -m matlib.readme --check    # exit 1 when README.md and the files disagree (the tests run this)

The block lies between two HTML comments in README.md. Its source is a results root as the main job
writes it (`<notebook>/results.json` and `runs.jsonl`); only those small files are committed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import comparison
from .paths import project_root
from .runner import notebooks, recorded_runs

BEGIN = "<!-- begin generated results: `python -m matlib.readme` writes this block from docs/results/full -->"
END = "<!-- end generated results -->"
RESULTS = Path("docs") / "results" / "full"


def run_table(root: Path) -> str:
    """One row per notebook of the series, run or not, with where and how long it ran."""
    runs = {r["notebook"]: r for r in recorded_runs(root)}
    lines = ["| notebook | status | minutes | hardware | GPU | train / eval split | finished (UTC) |",
             "|---|---|---|---|---|---|---|"]
    for name in [nb.stem for nb in notebooks()]:
        row = runs.get(name)
        if row is None:
            lines.append(f"| {name} | not run in this job yet | – | – | – | – | – |")
            continue
        res = row.get("results") or {}
        lines.append(f"| {name} | {row['status']} | {row['seconds'] / 60:.1f} | {res.get('hardware', '–')} | "
                     f"{row.get('gpus') if row.get('gpus') not in (None, '') else '–'} | "
                     f"{res.get('train_split') or '–'} / {res.get('eval_split') or '–'} | "
                     f"{(res.get('finished') or '–')[:16].replace('T', ' ')} |")
    return "\n".join(lines) + "\n"


def block(root: Path) -> str:
    found = comparison.collect(root)
    return "\n".join([BEGIN, "", run_table(root),
                      comparison.report(found, level=3), END])


MINUTES_BEGIN = ("<!-- begin generated minutes: `python -m matlib.readme` writes this block from "
                 "docs/results/timings, docs/results/teach and docs/results/full -->")
MINUTES_END = "<!-- end generated minutes -->"
TIMINGS = Path("docs") / "results" / "timings" / "make_test.json"
TEACH = Path("docs") / "results" / "teach"


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f}"


def minutes_table(full_root: Path, teach_root: Path, timings: Path) -> str:
    """Measured minutes per notebook and profile, from committed run records (never typed)."""
    import json

    smoke = json.loads(timings.read_text()) if timings.exists() else {}
    smoke_tests = smoke.get("notebook_tests", {})
    teach = {r["notebook"]: r for r in recorded_runs(teach_root)} if teach_root.exists() else {}
    full = {r["notebook"]: r for r in recorded_runs(full_root)}

    def run_minutes(runs: dict, name: str) -> str:
        row = runs.get(name)
        return _minutes(row["seconds"]) if row and row["status"] == "ok" else "–"

    def gpu(name: str) -> str:
        hardware = ((full.get(name) or {}).get("results") or {}).get("hardware", "")
        if hardware.startswith("CPU"):
            return "CPU"
        return next((kind for kind in ("H200", "H100") if kind in hardware), hardware or "–")

    lines = ["| notebook | `smoke` (`make test`, CPU) | `teach` (`make run`, CPU) | `full` (`make run`, one GPU) |",
             "|---|---|---|---|"]
    for name in [nb.stem for nb in notebooks()]:
        test = smoke_tests.get(f"test_notebook_smoke[{name}]")
        lines.append(f"| {name} | {_minutes(test['seconds']) if test else '–'} | {run_minutes(teach, name)} | "
                     f"{run_minutes(full, name)} ({gpu(name)}) |")
    teach_ok = [r for r in teach.values() if r["status"] == "ok"]
    teach_total = sum(r["seconds"] for r in teach_ok)
    notes = []
    if smoke:
        notes.append(f"- `make test`: {_minutes(smoke['pytest_seconds'])} min of tests ({smoke['tests']} tests, "
                     f"{smoke['cpus']} CPUs, {smoke['finished'][:10]}), after the one-time install.")
    if teach:
        repo = project_root() or Path.cwd()
        where = teach_root.resolve().relative_to(repo) if teach_root.resolve().is_relative_to(repo) else teach_root
        notes.append(f"- `make run` at `teach`: {_minutes(teach_total)} min for the {len(teach_ok)} notebooks that ran "
                     f"(`{where.as_posix()}/runs.jsonl`).")
    return "\n".join(lines + [""] + notes) + "\n"


def minutes_block(full_root: Path, teach_root: Path, timings: Path) -> str:
    return "\n".join([MINUTES_BEGIN, "", minutes_table(full_root, teach_root, timings), MINUTES_END])


def _replace(text: str, begin: str, end: str, content: str) -> str:
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"README has no generated block: add the lines\n{begin}\n{end}")
    return text[:start] + content + text[stop + len(end):]


def render(text: str, root: Path, teach_root: Path | None = None, timings: Path | None = None) -> str:
    """`text` with its generated blocks replaced by what the committed files say."""
    text = _replace(text, BEGIN, END, block(root))
    if MINUTES_BEGIN in text:
        repo = project_root() or Path.cwd()
        text = _replace(text, MINUTES_BEGIN, MINUTES_END,
                        minutes_block(root, teach_root or repo / TEACH, timings or repo / TIMINGS))
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    repo = project_root() or Path.cwd()
    ap.add_argument("--readme", type=Path, default=repo / "README.md")
    ap.add_argument("--results", type=Path, default=repo / RESULTS)
    ap.add_argument("--teach", type=Path, default=repo / TEACH, help="a teach main job's results root")
    ap.add_argument("--timings", type=Path, default=repo / TIMINGS, help="make test's timing record")
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when they differ")
    args = ap.parse_args(argv)
    text = args.readme.read_text()
    wanted = render(text, args.results, args.teach, args.timings)
    if args.check:
        if wanted != text:
            print(f"{args.readme} is out of date with {args.results}: run python -m matlib.readme", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(wanted)
    print(f"wrote the results block of {args.readme} from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

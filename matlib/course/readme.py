"""The README's generated blocks and docs/RESULTS.md, written from committed files so they never drift.

    python -m matlib.course.readme            # rewrite README.md's generated blocks and docs/RESULTS.md
    python -m matlib.course.readme --check    # exit 1 when either differs from what the files say (the tests run this)

Two blocks of README.md lie between HTML comments: the notebooks with their measured minutes
(from the run records in docs/results/timings, docs/results/teach and docs/results/full) and the
headline table (from the main job's results in docs/results/full and ``matlib.published``).
docs/RESULTS.md is generated whole (``matlib.course.results_document``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import comparison
from ..paths import project_root
from . import headline, results_document
from .runner import notebooks
from .runs import recorded_runs

RESULTS = Path("docs") / "results" / "full"
TIMINGS = Path("docs") / "results" / "timings" / "make_test.json"
TEACH = Path("docs") / "results" / "teach"
DOCUMENT = Path("docs") / "RESULTS.md"

NOTEBOOKS_BEGIN = ("<!-- begin generated notebooks: `python -m matlib.course.readme` writes this block from the notebooks' "
                   "titles and the run records in docs/results -->")
NOTEBOOKS_END = "<!-- end generated notebooks -->"
HEADLINE_BEGIN = ("<!-- begin generated headline: `python -m matlib.course.readme` writes this block from docs/results/full "
                  "and matlib/published.py -->")
HEADLINE_END = "<!-- end generated headline -->"


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f}"


def title(notebook: Path) -> str:
    """What a notebook teaches, as its own first heading says (``# 02 · CDVAE from scratch: ...``)."""
    first = "".join(json.loads(notebook.read_text())["cells"][0]["source"]).splitlines()[0]
    return first.lstrip("# ").split("·", 1)[-1].strip()


def minutes_table(full_root: Path, teach_root: Path, timings: Path) -> str:
    """One row per notebook: what it teaches and its measured minutes per profile (never typed)."""
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

    lines = ["| notebook | what it teaches | `smoke` (CPU) | `teach` (CPU) | `full` (one GPU) |", "|---|---|---|---|---|"]
    for nb in notebooks():
        name = nb.stem
        test = smoke_tests.get(f"test_notebook_smoke[{name}]")
        lines.append(f"| `{name}` | {title(nb)} | {_minutes(test['seconds']) if test else '–'} | "
                     f"{run_minutes(teach, name)} | {run_minutes(full, name)} ({gpu(name)}) |")
    teach_ok = [r for r in teach.values() if r["status"] == "ok"]
    notes = ["", "Minutes, measured: `smoke` in `make test` on the 2-core CI machine, `teach` in a `make run` on the "
             "same machine, `full` in the main job (the GPU in brackets)."]
    if smoke:
        notes.append(f"`make test` took {_minutes(smoke['pytest_seconds'])} min ({smoke['tests']} tests, "
                     f"{smoke['cpus']} CPUs, {smoke['finished'][:10]}) after the one-time install; `make run` at "
                     f"`teach` {_minutes(sum(r['seconds'] for r in teach_ok))} min for {len(teach_ok)} notebooks.")
    return "\n".join(lines + notes) + "\n"


def _replace(text: str, begin: str, end: str, content: str) -> str:
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"README has no generated block: add the lines\n{begin}\n{end}")
    return text[:start] + "\n".join([begin, "", content.rstrip("\n"), "", end]) + text[stop + len(end):]


def render(text: str, root: Path, teach_root: Path | None = None, timings: Path | None = None) -> str:
    """README text with its generated blocks replaced by what the committed files say."""
    repo = project_root() or Path.cwd()
    text = _replace(text, NOTEBOOKS_BEGIN, NOTEBOOKS_END,
                    minutes_table(root, teach_root or repo / TEACH, timings or repo / TIMINGS))
    return _replace(text, HEADLINE_BEGIN, HEADLINE_END, headline.markdown(comparison.collect(root)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    repo = project_root() or Path.cwd()
    ap.add_argument("--readme", type=Path, default=repo / "README.md")
    ap.add_argument("--document", type=Path, default=repo / DOCUMENT, help="the results document to write")
    ap.add_argument("--results", type=Path, default=repo / RESULTS)
    ap.add_argument("--teach", type=Path, default=repo / TEACH, help="a teach main job's results root")
    ap.add_argument("--timings", type=Path, default=repo / TIMINGS, help="make test's timing record")
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when a file differs")
    args = ap.parse_args(argv)
    wanted = {args.readme: render(args.readme.read_text(), args.results, args.teach, args.timings),
              args.document: results_document.render(args.results)}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path} is out of date with {args.results}: run python -m matlib.course.readme", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path])
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

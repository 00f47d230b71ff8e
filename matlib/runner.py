"""The main job: execute every notebook in order with papermill and summarise their results.

    python -m matlib.runner --profile auto --out outputs      (what `make run` does)
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .config import resolve_profile
from .paths import project_root
from .results import RESULTS_NAME, read_results


def notebooks(folder: Path | None = None) -> list[Path]:
    folder = folder or (project_root() or Path.cwd()) / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def execute(notebook: Path, out_root: Path, profile: str, parameters: dict | None = None,
            timeout: int | None = None) -> Path:
    """Run one notebook; its executed copy and its results folder go under `out_root`."""
    import papermill

    os.environ.setdefault("MATLIB_VIEWER", "static")  # keep pictures in executed notebooks
    for name in ("MATLIB_DATA", "MATLIB_CACHE"):      # notebooks run in notebooks/: pin relative paths here
        if os.environ.get(name) and not Path(os.environ[name]).is_absolute():
            os.environ[name] = str(Path(os.environ[name]).resolve())
    out_dir = out_root / notebook.stem
    params = {"profile": profile, "out_dir": str(out_dir.resolve()), **(parameters or {})}
    papermill.execute_notebook(str(notebook), str(out_root / notebook.name), parameters=params,
                               kernel_name="python3", cwd=str(notebook.parent), progress_bar=False,
                               execution_timeout=timeout)
    return out_dir / RESULTS_NAME


def summary_markdown(rows: list[dict]) -> str:
    lines = ["# Run summary", "", "| notebook | profile | status | minutes | device | train / eval split |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        res = r.get("results") or {}
        lines.append(f"| {r['notebook']} | {r['profile']} | {r['status']} | {r['seconds'] / 60:.1f} | "
                     f"{res.get('hardware', '-')} | {res.get('train_split') or '-'} / {res.get('eval_split') or '-'} |")
    for r in rows:
        metrics = (r.get("results") or {}).get("metrics")
        if metrics:
            lines += ["", f"## {r['notebook']}", "", "| metric | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in _flatten(metrics).items()]
    return "\n".join(lines) + "\n"


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _fmt(v) -> str:
    if isinstance(v, list) and any(isinstance(item, dict) for item in v):
        return f"{len(v)} rows (see results.json)"     # tables belong to their notebook, not to this overview
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="auto", help="smoke, teach, full, or auto (full with a GPU, else teach)")
    ap.add_argument("--out", default="outputs", type=Path)
    ap.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 00 02")
    args = ap.parse_args(argv)
    profile = resolve_profile(args.profile)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], 0
    for nb in notebooks():
        if args.only and not any(nb.name.startswith(p) for p in args.only):
            continue
        print(f"[{profile}] {nb.name} ...", flush=True)
        start = time.perf_counter()
        row = {"notebook": nb.stem, "profile": profile}
        try:
            row["results"] = read_results(execute(nb, args.out, profile))
            row["status"] = "ok"
        except Exception as err:  # keep going: later notebooks may not depend on this one
            failed += 1
            row["status"] = f"failed: {type(err).__name__}"
            print(f"  failed: {err}", file=sys.stderr)
        row["seconds"] = time.perf_counter() - start
        print(f"  {row['status']} in {row['seconds'] / 60:.1f} min", flush=True)
        rows.append(row)
    comparison = args.out / "comparison.md"          # notebook 09's tables, when it ran
    summary = summary_markdown(rows)
    if comparison.exists():
        summary += "\n" + comparison.read_text()
    (args.out / "summary.md").write_text(summary)
    print(f"wrote {args.out / 'summary.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

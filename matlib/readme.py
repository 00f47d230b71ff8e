"""The README's main-job results, generated from the committed results files so they never drift.

    python -m matlib.readme            # rewrite the generated block of README.md from docs/results/full
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


def render(text: str, root: Path) -> str:
    """`text` with its generated block replaced by what the files in `root` say."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no generated block: add the lines\n{BEGIN}\n{END}")
    return text[:start] + block(root) + text[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    repo = project_root() or Path.cwd()
    ap.add_argument("--readme", type=Path, default=repo / "README.md")
    ap.add_argument("--results", type=Path, default=repo / RESULTS)
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when they differ")
    args = ap.parse_args(argv)
    text = args.readme.read_text()
    wanted = render(text, args.results)
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

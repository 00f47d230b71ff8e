"""Every link and repository path in the lab's Markdown names a file that exists.

    python lab/check_links.py        # from the repository root; exit 1 and list the broken ones

Checked: Markdown links (relative to the file) and backticked paths from the repository root
(`lab/...`, `docs/...`, ...; `*` globs must match something, a checkpoint stem its manifest). Paths marked "(removed" on the same
line are git history, not files.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROOTED = re.compile(r"`((?:lab|docs|benchmarks|notebooks|matlib|data|tests)/[^`\s<>…]*)`(?! \(removed)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def broken(md: Path) -> list[str]:
    bad = []
    for number, line in enumerate(md.read_text().splitlines(), 1):
        for target in LINK.findall(line):
            if target.startswith(("http://", "https://", "#")):
                continue
            if not (md.parent / target.split("#")[0]).exists():
                bad.append(f"{md.relative_to(ROOT)}:{number}: link {target}")
        for path in ROOTED.findall(line):
            if "git show" in line and f"git show 9ebf537:{path}" in line:
                continue
            found = list(ROOT.glob(path.rstrip("/"))) if "*" in path else \
                [p for p in (ROOT / path, ROOT / f"{path}.json") if p.exists()]   # or a checkpoint stem
            if not found:
                bad.append(f"{md.relative_to(ROOT)}:{number}: path {path}")
    return bad


if __name__ == "__main__":
    problems = [b for md in sorted((ROOT / "lab").rglob("*.md")) for b in broken(md)]
    print("\n".join(problems) or "all links resolve")
    sys.exit(1 if problems else 0)

"""One way for every benchmark to report: a JSON line per measurement, and all rows (or one
report) to a file."""
import json
from pathlib import Path


def emit(rows: list[dict], row: dict) -> None:
    rows.append(row)
    print(json.dumps(row), flush=True)


def save(rows: list[dict], path) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(rows, f, indent=2)


def write_report(report: dict, path) -> None:
    """One benchmark's whole report as JSON at ``path`` (folders made), when a path is given."""
    if path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {path}")

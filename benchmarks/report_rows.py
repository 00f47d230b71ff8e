"""One way for every benchmark to report: a JSON line per measurement, and all rows to a file."""
import json


def emit(rows: list[dict], row: dict) -> None:
    rows.append(row)
    print(json.dumps(row), flush=True)


def save(rows: list[dict], path) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(rows, f, indent=2)

"""Each notebook's results file: the metrics the tests assert on and the README tables quote."""
from __future__ import annotations

import datetime as _dt
import json
import platform
from importlib import metadata
from pathlib import Path

import torch

from .config import RunConfig
from .jsonsafe import jsonable

RESULTS_NAME = "results.json"
VERSIONED = ("matlib", "torch", "pymatgen", "smact", "matminer", "chgnet", "numpy")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


def write_results(out_dir: str | Path, notebook: str, cfg: RunConfig, metrics: dict, *,
                  train_split: str | None = None, eval_split: str | None = None, timings: dict | None = None,
                  files: dict | None = None) -> Path:
    """Write ``out_dir/results.json`` and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "notebook": notebook,
        "profile": cfg.profile,
        "seed": cfg.seed,
        "device": str(cfg.device),
        "hardware": hardware(cfg.device),
        "train_split": train_split,
        "eval_split": eval_split,
        "metrics": jsonable(metrics),
        "timings_s": jsonable(timings or {}),
        "files": {k: str(v) for k, v in (files or {}).items()},
        "config": jsonable(cfg.as_dict()),
        "versions": versions(),
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    path = out_dir / RESULTS_NAME
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def read_results(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_NAME
    return json.loads(path.read_text())

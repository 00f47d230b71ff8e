"""Profile presets: what `smoke`, `teach` and `full` run, declared in one file per notebook.

`notebooks/presets/<notebook>.yaml` holds, at its top level:

- `all`: settings every profile shares;
- `smoke`, `teach`, `full`: each profile's settings, and optionally `by_dataset: {<dataset>: {...}}`
  for adjustments to one dataset (e.g. fewer samples where crystals cost more to score);
- `choices`: for a setting with a fixed set of values, the values allowed;
- `limits`: for a number, its bounds: `min` and `max` (allowed), `above` and `below` (excluded).

A profile's settings are `all`, then the profile's own, then its `by_dataset` entry for the run's
dataset; the notebook's parameters and `overrides` replace single settings after that.
"""
from __future__ import annotations

import operator
from pathlib import Path
from typing import Any, Mapping

import yaml

from .config import ConfigError
from .paths import project_root
from .registry import DATASETS

PROFILE_KEYS = ("smoke", "teach", "full")
SECTIONS = ("all", "choices", "limits", *PROFILE_KEYS)
# names RunConfig uses itself: a setting called so would be shadowed or collide
RESERVED = {"profile", "seed", "device", "amp", "settings", "out", "started"}
BOUNDS = {"min": (operator.ge, ">="), "max": (operator.le, "<="), "above": (operator.gt, ">"),
          "below": (operator.lt, "<")}


class PresetError(ConfigError):
    """A preset file that is missing or malformed, or a value outside what it allows."""


def presets_dir() -> Path:
    """`notebooks/presets/` of the project (or of the working folder, where notebooks run)."""
    root = project_root()
    for folder in ([root / "notebooks" / "presets"] if root else []) + [Path.cwd() / "presets"]:
        if folder.is_dir():
            return folder
    raise PresetError("no notebooks/presets/ folder: run from the project or its notebooks/ folder")


def load(notebook: str, folder: str | Path | None = None) -> dict[str, Any]:
    """The parsed and checked preset file of `notebook` (e.g. "02_cdvae")."""
    path = Path(folder or presets_dir()) / f"{notebook}.yaml"
    if not path.is_file():
        raise PresetError(f"{path} not found: every notebook declares its profiles there")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values() if v is not None):
        raise PresetError(f"{path.name}: the top level and each section must be mappings of names to values")
    unknown = sorted(set(data) - set(SECTIONS))
    missing = [p for p in PROFILE_KEYS if p not in data]
    if unknown or missing:
        raise PresetError(f"{path.name}: sections {unknown} are unknown, {missing} are missing")
    reserved = sorted(known_settings(data) & RESERVED)
    if reserved:
        raise PresetError(f"{path.name}: {reserved} name the run itself, not a setting: rename them")
    odd_bounds = sorted({b for bounds in (data.get("limits") or {}).values() for b in bounds} - set(BOUNDS))
    if odd_bounds:
        raise PresetError(f"{path.name}: limits know {sorted(BOUNDS)}, not {odd_bounds}")
    for profile in PROFILE_KEYS:
        strange = sorted(set((data[profile] or {}).get("by_dataset") or {}) - set(DATASETS))
        if strange:
            raise PresetError(f"{path.name}: {profile}.by_dataset names no dataset: {strange}")
    return data


def settings(data: Mapping[str, Any], profile: str, dataset: str | None = None) -> dict[str, Any]:
    """A profile's settings: shared ones, the profile's, then its entry for `dataset`."""
    own = dict(data[profile] or {})
    by_dataset = own.pop("by_dataset", {}) or {}
    merged = {**(data.get("all") or {}), **own}
    dataset = dataset if dataset is not None else merged.get("dataset")
    merged.update(by_dataset.get(dataset, {}))
    return merged


def known_settings(data: Mapping[str, Any]) -> set[str]:
    """Every setting any profile declares: what `overrides` may name."""
    names = set(data.get("all") or {})
    for profile in PROFILE_KEYS:
        own = data[profile] or {}
        names |= set(own) - {"by_dataset"}
        for extra in (own.get("by_dataset") or {}).values():
            names |= set(extra)
    return names


def check(data: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Fail, naming the setting, when a value lies outside the file's `choices` or `limits`."""
    for name, allowed in (data.get("choices") or {}).items():
        if name in values and values[name] not in allowed:
            raise PresetError(f"{name} must be one of {allowed}, not {values[name]!r}")
    for name, bounds in (data.get("limits") or {}).items():
        value = values.get(name)
        if value is None:
            continue
        for bound, limit in bounds.items():
            holds, sign = BOUNDS[bound]
            if not isinstance(value, (int, float)) or not holds(value, limit):
                raise PresetError(f"{name} must be {sign} {limit}, not {value!r}")

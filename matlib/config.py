"""Run configuration: profile resolution, device choice, seeding, mixed precision.

Every notebook's parameters cell holds only plain values (papermill overrides them); the next
cell calls :func:`setup`, which reads the profile's presets (`notebooks/presets/<notebook>.yaml`),
so that everything derived from the parameters is computed after papermill injects them.
"""
from __future__ import annotations

import contextlib
import random
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import torch

PROFILES = ("smoke", "teach", "full")

# What each profile promises (the README quotes these).
PROFILE_BUDGET_MINUTES = {"smoke": 2, "teach": 10, "full": 8}


class ConfigError(ValueError):
    """A parameter value that cannot be turned into a run configuration."""


def require_reference_count(value: Any) -> None:
    """`n_reference`: a positive number of test crystals, or "all" (CDVAE's protocol)."""
    if value != "all" and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        raise ConfigError(f"n_reference must be a positive number or 'all', not {value!r}")


def cuda_available() -> bool:
    return torch.cuda.is_available()


def resolve_profile(profile: str) -> str:
    """`auto` means `full` where a GPU is present, `teach` otherwise."""
    if profile == "auto":
        return "full" if cuda_available() else "teach"
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}: use one of {PROFILES + ('auto',)}")
    return profile


def pick_device(device: str | torch.device = "auto", profile: str = "teach") -> torch.device:
    """CUDA when present, except for `smoke`, which always proves the CPU path."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if profile == "smoke":
            return torch.device("cpu")
        return torch.device("cuda" if cuda_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not cuda_available():
        raise ConfigError(f"device={device!r} was asked for but no CUDA GPU is visible; use 'auto' or 'cpu'")
    return dev


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if cuda_available():
        torch.cuda.manual_seed_all(seed)


@dataclass
class RunConfig:
    """The resolved settings of one notebook run. Attribute access reaches `settings` too."""

    profile: str
    device: torch.device
    seed: int
    amp: bool
    settings: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None           # the notebook's output folder (setup() makes it)
    started: float = field(default_factory=time.perf_counter)

    def __getattr__(self, name: str) -> Any:
        settings = self.__dict__.get("settings", {})
        if name in settings:
            return settings[name]
        raise AttributeError(f"RunConfig has no setting {name!r}; known: {sorted(settings)}")

    @property
    def amp_dtype(self) -> torch.dtype:
        return torch.bfloat16

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision on CUDA when `amp` is on; a no-op otherwise."""
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "device": str(self.device), "seed": self.seed,
                "amp": self.amp, **self.settings}


def resolve(profile: str = "auto", *, seed: int = 0, device: str = "auto", amp: bool | None = None,
            presets: Mapping[str, Mapping[str, Any]] | None = None, **overrides: Any) -> RunConfig:
    """Turn the parameters cell into a :class:`RunConfig`.

    `presets` maps each profile to its settings (sizes, steps, budgets); `overrides` replace single
    settings, e.g. ``resolve("teach", presets=P, n_steps=50)``. Mixed precision defaults to on for
    CUDA runs. Notebooks call :func:`setup`, which reads the presets from their file.
    """
    profile = resolve_profile(profile)
    dev = pick_device(device, profile)
    settings: dict[str, Any] = {}
    if presets:
        missing = [p for p in PROFILES if p not in presets]
        if missing:
            raise ConfigError(f"presets lack profiles {missing}")
        settings.update(presets[profile])
    unknown = [k for k in overrides if presets and k not in settings]
    if unknown:
        raise ConfigError(f"override(s) {unknown} are not settings of this notebook: {sorted(settings)}")
    settings.update(overrides)
    seed_everything(seed)
    use_amp = (dev.type == "cuda") if amp is None else bool(amp)
    return RunConfig(profile=profile, device=dev, seed=seed, amp=use_amp, settings=settings)


def setup(notebook: str, profile: str = "auto", *, seed: int = 0, device: str = "auto",
          out_dir: str | Path | None = None, dataset: str | None = None, overrides: Mapping[str, Any] | None = None,
          presets_folder: str | Path | None = None, **parameters: Any) -> RunConfig:
    """The setup cell in one call: the profile's presets from `notebooks/presets/<notebook>.yaml`,
    then the parameters that are not None (`train_seconds=300`), then `overrides` (any setting the
    file declares), each checked against the file's `choices` and `limits`; seeds every generator
    and makes the output folder (`cfg.out`).

    The dataset (the `dataset` parameter, else an override, else the profile's) picks the profile's
    `by_dataset` entry and is recorded as a setting.
    """
    from . import presets   # here, not at the top: presets imports this module's ConfigError
    from .paths import outputs_dir

    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides must be a mapping of settings, e.g. {{'batch_size': 512}}, not {overrides!r}")
    data = presets.load(notebook, presets_folder)
    given = {name: value for name, value in parameters.items() if value is not None}
    extra = dict(overrides or {})
    known = presets.known_settings(data)
    unknown = sorted(name for name in [*given, *extra] if name not in known)
    if unknown:
        raise ConfigError(f"{unknown} are not settings of {notebook}; the presets file declares {sorted(known)}")
    profile = resolve_profile(profile)
    dataset = dataset if dataset is not None else extra.get("dataset")
    settings = {**presets.settings(data, profile, dataset), **given, **extra}
    if dataset is not None:
        settings["dataset"] = dataset
    presets.check(data, settings)
    if "n_reference" in settings:
        require_reference_count(settings["n_reference"])
    cfg = resolve(profile, seed=seed, device=device)
    cfg.settings.update(settings)
    cfg.out = Path(out_dir) if out_dir else outputs_dir(notebook)
    cfg.out.mkdir(parents=True, exist_ok=True)
    return cfg

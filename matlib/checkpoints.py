"""Checkpoints as safetensors plus a JSON manifest (config, metrics, sha256). Nothing is unpickled.

``save(stem, model, ...)`` writes ``stem.safetensors`` and ``stem.json``. The manifest holds the
weights' sha256 and a digest of the manifest itself (config, metrics, what it was trained on and
that sha256), so ``load`` refuses changed weights and an edited manifest alike. ``trained_on``
records the dataset, split and property; ``require`` checks them where a checkpoint is used.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .datasets import sha256_file
from .jsonsafe import jsonable
from .paths import ordinary_permissions

FORMAT = "matlib-checkpoint/2"         # /1 manifests carried no digest of their own; see ``matlib.course.reseal``


class CheckpointError(RuntimeError):
    pass


@dataclass
class Checkpoint:
    path: Path
    manifest: dict
    tensors: dict[str, torch.Tensor]

    @property
    def config(self) -> dict:
        return self.manifest.get("config", {})

    @property
    def metrics(self) -> dict:
        return self.manifest.get("metrics", {})

    @property
    def trained_on(self) -> dict:
        return self.manifest.get("trained_on", {})

    @property
    def step(self) -> int:
        return int(self.manifest.get("step", 0))

    def model_state(self) -> dict[str, torch.Tensor]:
        return {k[len("model/"):]: v for k, v in self.tensors.items() if k.startswith("model/")}

    def load_into(self, model: torch.nn.Module) -> torch.nn.Module:
        """Copy the weights into `model` (strict), with a clear error when they do not fit."""
        try:
            model.load_state_dict(self.model_state(), strict=True)
        except RuntimeError as err:
            raise CheckpointError(f"{self.path} does not fit this model (saved with config {self.config}): "
                                  f"{str(err).strip()[:400]}") from None
        return model


def _paths(stem: str | Path) -> tuple[Path, Path]:
    stem = Path(stem)
    if stem.suffix in {".safetensors", ".json"}:
        stem = stem.with_suffix("")
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def exists(stem: str | Path) -> bool:
    weights, manifest = _paths(stem)
    return weights.exists() and manifest.exists()


def save(stem: str | Path, model: torch.nn.Module, *, config: dict | None = None, metrics: dict | None = None,
         optimizer: torch.optim.Optimizer | None = None, step: int = 0, extra: dict | None = None,
         weights_dtype: torch.dtype | None = None, trained_on: dict | None = None) -> Path:
    """Write weights (and optimizer state, for resuming) plus the manifest. Returns the weights path.

    ``trained_on``: e.g. ``{"dataset": "mp_20", "split": "val", "property": "band_gap"}``, checked by
    ``require`` wherever the checkpoint is loaded for a dataset or property.

    ``weights_dtype=torch.float16`` halves a committed checkpoint; loading casts back to the model's dtype.
    It applies to parameters only: buffers (target means, scalers) stay exact, since fp16 keeps three
    significant digits and a mean of -154.3 eV would move by 0.06 eV.
    """
    weights, manifest_path = _paths(stem)
    weights.parent.mkdir(parents=True, exist_ok=True)
    parameters = {name for name, _ in model.named_parameters()}

    def stored(name: str, v: torch.Tensor) -> torch.Tensor:
        v = v.detach().cpu()
        narrow = weights_dtype is not None and v.is_floating_point() and name in parameters
        return (v.to(weights_dtype) if narrow else v).contiguous()

    tensors = {f"model/{k}": stored(k, v) for k, v in model.state_dict().items()}
    manifest: dict[str, Any] = {"format": FORMAT, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                                "config": jsonable(config or {}), "metrics": jsonable(metrics or {}),
                                "step": step, "extra": jsonable(extra or {}),
                                "trained_on": jsonable(trained_on or {}),
                                "versions": {"torch": torch.__version__}}
    if optimizer is not None:
        state = optimizer.state_dict()
        scalars: dict[str, dict] = {}
        for pid, entry in state["state"].items():
            for name, value in entry.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optimizer/{pid}/{name}"] = value.detach().cpu().contiguous()
                else:
                    scalars.setdefault(str(pid), {})[name] = value
        manifest["optimizer"] = {"param_groups": jsonable(state["param_groups"]), "scalars": jsonable(scalars)}
    broken = _non_finite(tensors)
    if broken:
        raise CheckpointError(f"refusing to save {weights}: {len(broken)} tensor(s) hold NaN or inf "
                              f"(e.g. {broken[:3]}); a checkpoint never stores non-finite values")
    tmp = weights.with_suffix(".safetensors.part")
    save_file(tensors, str(tmp))
    ordinary_permissions(tmp)
    tmp.replace(weights)
    manifest["sha256"] = sha256_file(weights)
    manifest["bytes"] = weights.stat().st_size
    _write_manifest(manifest_path, manifest)
    return weights


def manifest_digest(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON, leaving out the digest itself."""
    body = {k: v for k, v in manifest.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()).hexdigest()


def _write_manifest(path: Path, manifest: dict) -> None:
    manifest["digest"] = manifest_digest(manifest)
    part = path.with_suffix(".json.part")
    part.write_text(json.dumps(manifest, indent=2, allow_nan=False))
    ordinary_permissions(part)
    part.replace(path)


def _non_finite(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding NaN or inf (a checkpoint never stores or loads them)."""
    return [name for name, value in tensors.items() if value.is_floating_point() and not torch.isfinite(value).all()]


def load(stem: str | Path, model: torch.nn.Module | None = None, optimizer: torch.optim.Optimizer | None = None,
         map_location: str | torch.device = "cpu") -> Checkpoint:
    """Verify and read a checkpoint; fill `model` (strictly) and `optimizer` when given."""
    weights, manifest_path = _paths(stem)
    for p in (weights, manifest_path):
        if not p.exists():
            raise CheckpointError(f"checkpoint file {p} is missing (a checkpoint is a .safetensors and a .json pair)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{manifest_path} is not valid JSON ({err}); delete the pair and retrain") from None
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{manifest_path} holds a JSON {type(manifest).__name__}, not a checkpoint manifest")
    if manifest.get("format") == "matlib-checkpoint/1":
        raise CheckpointError(f"{manifest_path} was written by an older matlib, whose manifests carried no digest of "
                              f"their own. Retrain, or check its config and run `python -m matlib.course.reseal "
                              f"{manifest_path.with_suffix('')} --dataset NAME --split SPLIT` once.")
    if manifest.get("format") != FORMAT:
        raise CheckpointError(f"{manifest_path}: unknown format {manifest.get('format')!r}, expected {FORMAT}")
    try:
        intact = manifest.get("digest") == manifest_digest(manifest)
    except ValueError:          # NaN or inf typed into the JSON: never written by save()
        intact = False
    if not intact:
        raise CheckpointError(f"{manifest_path} was edited after it was saved (its digest no longer matches its "
                              f"config, metrics and weights' sha256): restore it from git or retrain")
    digest = sha256_file(weights)
    if digest != manifest.get("sha256"):
        raise CheckpointError(f"{weights} is corrupt or was changed: sha256 {digest} != manifest "
                              f"{manifest.get('sha256')}. Delete it and retrain (or restore it from git).")
    try:
        tensors = load_file(str(weights), device=str(map_location))
    except SafetensorError as err:
        raise CheckpointError(f"{weights} cannot be read: {err}") from None
    broken = _non_finite(tensors)
    if broken:                # e.g. NaN weights whose manifest was re-hashed by hand
        raise CheckpointError(f"{weights} holds NaN or inf in {len(broken)} tensor(s) (e.g. {broken[:3]}): not a "
                              f"usable model; retrain it")
    ckpt = Checkpoint(weights, manifest, tensors)
    if model is not None:
        ckpt.load_into(model)
    if optimizer is not None:
        optimizer.load_state_dict(optimizer_state(ckpt))
    return ckpt


def require(ckpt: Checkpoint, **expected: str | None) -> None:
    """Refuse a checkpoint trained on another dataset or property than the one it is used for
    (``require(ckpt, dataset="mp_20", property="band_gap")``; a None value is not checked)."""
    recorded = ckpt.trained_on
    for key, wanted in expected.items():
        if wanted is None:
            continue
        if key not in recorded:
            raise CheckpointError(f"{ckpt.path} records no {key} it was trained on, so it cannot be checked "
                                  f"against {wanted!r}; save it with trained_on={{{key!r}: ...}}")
        if recorded[key] != wanted:
            raise CheckpointError(f"{ckpt.path} was trained on {key} {recorded[key]!r}, not {wanted!r}; "
                                  f"use a checkpoint trained on {wanted!r}")


def load_model(stem: str | Path, build: Callable[[dict], torch.nn.Module], device: str | torch.device = "cpu",
               what: str = "model", **trained_on: str | None) -> tuple[torch.nn.Module, Checkpoint]:
    """Rebuild a model from the manifest's configuration (``build(config)``) and load its weights;
    ``trained_on`` (e.g. ``dataset="mp_20"``, None: unchecked) is checked with :func:`require`."""
    ckpt = load(stem)
    try:
        model = build(ckpt.config)
    except (KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(f"{stem}: the manifest does not describe a {what} (its config lacks or "
                              f"mistypes {err}); is it another kind of checkpoint?") from None
    ckpt.load_into(model)
    require(ckpt, **trained_on)
    return model.to(device), ckpt


def optimizer_state(ckpt: Checkpoint) -> dict:
    info = ckpt.manifest.get("optimizer")
    if info is None:
        raise CheckpointError(f"{ckpt.path} holds no optimizer state, so training cannot resume from it")
    state: dict[int, dict] = {}
    for key, value in ckpt.tensors.items():
        if key.startswith("optimizer/"):
            _, pid, name = key.split("/", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, entries in info.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(entries)
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g for g in info["param_groups"]]
    return {"state": state, "param_groups": groups}


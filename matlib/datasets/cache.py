"""The processed-tensor cache: tensors and JSON metadata under a key in ``<data>/cache``, one file
each, checked by a content digest on every read (a cache is rebuilt, never trusted)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..paths import data_dir, ordinary_permissions

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    return data_dir() / "cache"


def _content_digest(tensors: dict[str, torch.Tensor], meta_text: str) -> str:
    h = hashlib.sha256(meta_text.encode())
    for name in sorted(tensors):
        value = tensors[name].detach().cpu().contiguous()
        h.update(name.encode() + str(value.dtype).encode() + str(tuple(value.shape)).encode())
        h.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return h.hexdigest()


def write_cached(key: str, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Tensors and JSON metadata into the cache under ``key``: one file (tensors, metadata and a
    digest of both), published by one rename, so a reader never pairs two writers' halves."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    meta_text = json.dumps(meta)
    # written beside, then renamed: notebooks (or threads) side by side may read while another one writes
    part = folder / f"{key}.safetensors.{os.getpid()}.{threading.get_ident()}.part"
    save_file(tensors, str(part), metadata={"meta": meta_text, "digest": _content_digest(tensors, meta_text)})
    ordinary_permissions(part)
    os.replace(part, folder / f"{key}.safetensors")


def read_cached(key: str) -> tuple[dict[str, torch.Tensor], dict] | None:
    """What ``write_cached`` stored under ``key``, or None when it is absent, unreadable or changed
    since (its digest no longer matches): a cache is rebuilt, never trusted."""
    path = cache_dir() / f"{key}.safetensors"
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            stored = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        meta_text = stored["meta"]
        if _content_digest(tensors, meta_text) != stored["digest"]:
            raise ValueError("content digest mismatch")
        return tensors, json.loads(meta_text)
    except Exception as err:  # a broken or edited cache is rebuilt, never trusted
        log.warning("ignoring unreadable cache %s (%s); it will be rebuilt", path, err)
        return None


def clear_cache() -> int:
    removed = 0
    for f in cache_dir().glob("*"):
        f.unlink()
        removed += 1
    return removed

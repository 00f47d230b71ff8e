"""Where a split's CSV comes from: finding it, downloading it and verifying its checksum.

Lookup order for ``locate(dataset, split)``:
  1. an explicit ``path`` (a file, or a folder searched like 2); a file is verified like every other
     copy unless ``own_file=True`` says it is your own edit,
  2. ``$MATLIB_DATA/<dataset>/<split>.csv[.gz]``,
  3. the download cache ``<data>/downloads/<dataset>/<split>.csv[.gz]``,
  4. a download from the upstream URL (or the mirror in ``$MATLIB_DATA_URL``), kept only if its
     checksum matches upstream's,
  5. otherwise a :class:`DataNotFoundError` saying what was tried and how to get the file.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from ..paths import data_dir
from ..registry import get_spec
from .errors import ChecksumError, DataNotFoundError, MalformedRowError

log = logging.getLogger(__name__)


# ---- checksums ----------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_blob_id(data: bytes) -> str:
    """What `git hash-object` prints for a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _read_bytes(path: Path) -> bytes:
    raw = Path(path).read_bytes()
    return gzip.decompress(raw) if str(path).endswith(".gz") else raw


def verify(path: Path, dataset: str, split: str) -> str:
    """Return the file's sha256 if it is a known version of dataset/split, else raise ChecksumError."""
    spec = get_spec(dataset).splits[split]
    digest = sha256_file(path)
    if digest in spec.sha256:
        return digest
    try:
        if git_blob_id(_read_bytes(path)) == spec.upstream_blob:
            return digest
    except (OSError, EOFError, zlib.error):  # a truncated or damaged .gz is just another mismatch
        pass
    raise ChecksumError(
        f"{path} does not match any known version of {dataset}/{split} (sha256 {digest}, expected one of "
        f"{list(spec.sha256) or '-'} or upstream git blob {spec.upstream_blob}). The file is corrupt or a "
        f"different dataset: delete it and fetch it again, or pass path=<the file>, own_file=True to use "
        f"your own edited copy.")


# ---- lookup -------------------------------------------------------------------------------

def _candidates(folder: Path, dataset: str, split: str) -> list[Path]:
    return [folder / dataset / f"{split}.csv.gz", folder / dataset / f"{split}.csv"]


def _split_spec(dataset: str, split: str):
    spec = get_spec(dataset)
    if split not in spec.splits:
        raise DataNotFoundError(f"{dataset} has no split {split!r}; splits are {sorted(spec.splits)}")
    return spec


def downloads_dir() -> Path:
    return data_dir() / "downloads"


def locate(dataset: str, split: str, path: str | Path | None = None, download: bool = True,
           timeout: float = 30.0, own_file: bool = False) -> Path:
    """Find (or fetch) the CSV of one split; see the module docstring for the order.

    ``own_file=True`` (with ``path`` naming a file) skips the checksum: for a copy you edited on purpose."""
    spec = _split_spec(dataset, split)
    tried: list[str] = []
    folders = []
    if own_file and (path is None or not Path(path).is_file()):
        raise DataNotFoundError(f"own_file=True needs path= naming your file; {path!r} is not a file")
    if path is not None:
        path = Path(path)
        if path.is_file():
            if not own_file:
                verify(path, dataset, split)
            return path
        if not path.is_dir():
            raise DataNotFoundError(f"path={str(path)!r} is neither a file nor a folder")
        found = [c for c in _candidates(path, dataset, split) if c.is_file()]
        if not found:          # an explicit folder is the answer, not one place among others
            raise DataNotFoundError(f"path={str(path)!r} holds no {dataset}/{split}.csv[.gz]; put the file there "
                                    f"or pass path=None to search $MATLIB_DATA and the download cache")
        verify(found[0], dataset, split)
        return found[0]
    env = os.environ.get("MATLIB_DATA")
    if env:
        folders.append(("$MATLIB_DATA", Path(env)))
    else:
        tried.append("$MATLIB_DATA (not set)")
    folders.append(("download cache", downloads_dir()))
    for label, folder in folders:
        for candidate in _candidates(folder, dataset, split):
            if candidate.is_file():
                verify(candidate, dataset, split)
                return candidate
        tried.append(f"{label}: {folder}/{dataset}/{split}.csv[.gz]")
    url = source_url(dataset, split)
    if download:
        try:
            return fetch(dataset, split, url, timeout=timeout)
        except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as err:
            tried.append(f"download {url}: {type(err).__name__}: {err}")
    raise DataNotFoundError(
        f"{dataset}/{split}.csv not found. Tried:\n  - " + "\n  - ".join(tried) +
        f"\nSet MATLIB_DATA to the folder holding <dataset>/<split>.csv[.gz] (in this repo: "
        f"MATLIB_DATA=../shared/data), or download {url} into {downloads_dir() / dataset}/.")


def source_url(dataset: str, split: str) -> str:
    """Where a split is downloaded from: upstream, or a mirror named by $MATLIB_DATA_URL
    (a template such as ``https://mirror.example/{dataset}/{split}.csv``); checked against upstream either way."""
    template = os.environ.get("MATLIB_DATA_URL")
    if not template:
        return get_spec(dataset).url(split)
    if "{dataset}" not in template or "{split}" not in template:
        raise DataNotFoundError(f"MATLIB_DATA_URL={template!r} must contain {{dataset}} and {{split}}, e.g. "
                                "https://mirror.example/{dataset}/{split}.csv")
    return template.replace("{dataset}", dataset).replace("{split}", split)


MAX_DOWNLOAD_BYTES = 256 * 2**20      # the largest split (MPTS-52 train) is far smaller
DOWNLOAD_DEADLINE_S = 600.0           # for the whole file, not per read: a trickling server ends too


def _download(url: str, timeout: float, deadline_s: float = DOWNLOAD_DEADLINE_S,
              max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
    deadline = time.monotonic() + deadline_s
    chunks, size = [], 0
    with urllib.request.urlopen(url, timeout=timeout) as response:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"download of {url} took more than {deadline_s:.0f} s: stopped")
            chunk = response.read(1 << 16)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_bytes:
                raise ChecksumError(f"download of {url} exceeded {max_bytes:,} bytes: not a benchmark split, stopped")
            chunks.append(chunk)


def fetch(dataset: str, split: str, url: str, timeout: float = 30.0) -> Path:
    """Download one split into the cache; keep it only if it is a known version: upstream's git blob
    id, or one of the registry's sha256 (a mirror of the series' own copies, as verify() accepts)."""
    target = downloads_dir() / dataset / f"{split}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s", url)
    data = _download(url, timeout)
    spec = get_spec(dataset).splits[split]
    expected, got = spec.upstream_blob, git_blob_id(data)
    if got != expected and hashlib.sha256(data).hexdigest() not in spec.sha256:
        raise ChecksumError(f"download of {url} has git blob id {got}, expected {expected}: refused, "
                            f"nothing was written to {target}")
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def resolve_train_split(names: str | list[str] | tuple[str, ...], requested: str = "auto", *,
                        path: str | Path | None = None, download: bool = True, timeout: float = 10.0) -> str:
    """The split to train on. ``"auto"``: ``train`` when every named dataset's train split is found or
    downloads and verifies, else ``val``, with a one-line notice of why and what it costs. Any other
    value is returned as given (after checking the datasets have it)."""
    names = [names] if isinstance(names, str) else list(names)
    if requested != "auto":
        for name in names:
            _split_spec(name, requested)
        return requested
    for name in names:
        try:
            locate(name, "train", path, download=download, timeout=timeout)
        except (DataNotFoundError, ChecksumError, MalformedRowError, OSError, http.client.HTTPException) as err:
            spec = get_spec(name).splits
            val, train = spec["val"].rows, spec["train"].rows
            cost = (f"{val:,} crystals instead of {train:,} ({train / val:.1f}x fewer)" if val and train
                    else "a smaller training set")
            reason = str(err).splitlines()[0].removesuffix(" Tried:").rstrip(".")
            print(f"train_split='auto': {name}'s train split is not available ({reason}); training on val: {cost}, "
                  f"so expect lower validity, coverage and success than the papers, which trained on train.")
            return "val"
    return "train"

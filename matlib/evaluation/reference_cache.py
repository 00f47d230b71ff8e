"""A whole split as the coverage reference, fingerprinted once and kept in the data cache.

CDVAE scores COV against every test crystal. A subset lowers COV-P (each sample has fewer
crystals to land near): the main job's 2,000 Perov-5 CDVAE crystals score 68.8 % against 1,000
random test crystals and 88.8 % against all 3,785. Fingerprinting a whole split is slow (MP-20's
test split takes about 10 CPU-minutes, 0.06 s a crystal), so the fingerprints are stored beside
the dataset cache, keyed by the split file's hash and the matminer and pymatgen versions (CrystalNN
comes from both), as safetensors plus JSON (no pickle). A cache that cannot be read is rebuilt.
"""
from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import torch
from pymatgen.core import Structure

from ..datasets import CrystalDataset, load_split, locate, read_cached, sha256_file, write_cached
from ..results import versions
from .fingerprints import COMP_FP_DIM, STRUCT_FP_DIM, Fingerprints, compute_fingerprints
from ..parallel import process_pool, usable_cpus
from .reference_set import ReferenceSet, prepare_reference

CACHE_VERSION = 1


def _versions() -> str:
    found = versions()
    return "-".join(f"{package}{found[package]}".replace(" ", "-") for package in ("matminer", "pymatgen"))


def cache_key(split: CrystalDataset) -> str:
    return (f"{split.name}-{split.split}-{sha256_file(split.source)[:16]}-n{len(split)}-{_versions()}"
            f"-fingerprints-v{CACHE_VERSION}")


def _pack(vectors: list[np.ndarray | None], dim: int) -> tuple[np.ndarray, np.ndarray]:
    present = np.array([v is not None for v in vectors], dtype=np.uint8)
    table = np.zeros((len(vectors), dim), dtype=np.float64)
    for i, v in enumerate(vectors):
        if v is not None:
            table[i] = v
    return table, present


def _unpack(table: np.ndarray, present: np.ndarray) -> list[np.ndarray | None]:
    return [row.copy() if ok else None for row, ok in zip(table, present)]


def save_fingerprints(key: str, fingerprints: Fingerprints) -> None:
    struct, struct_ok = _pack(fingerprints.struct, STRUCT_FP_DIM)
    comp, comp_ok = _pack(fingerprints.comp, COMP_FP_DIM)
    tensors = {"struct": struct, "struct_ok": struct_ok, "comp": comp, "comp_ok": comp_ok}
    write_cached(key, {name: torch.from_numpy(array) for name, array in tensors.items()},
                 {"versions": _versions(), "struct_reason": list(fingerprints.struct_reason)})


def load_fingerprints(key: str, expected: int) -> Fingerprints | None:
    """The cached fingerprints of ``expected`` crystals, or None (absent, unreadable or stale)."""
    cached = read_cached(key)
    if cached is None:
        return None
    t, meta = cached
    try:
        if meta["versions"] != _versions():
            return None
        t = {name: tensor.numpy() for name, tensor in t.items()}
        fingerprints = Fingerprints(_unpack(t["struct"], t["struct_ok"]), _unpack(t["comp"], t["comp_ok"]),
                                    list(meta["struct_reason"]))
    except (KeyError, TypeError, AttributeError):   # another layout: rebuilt, never trusted
        return None
    lengths = {len(fingerprints.struct), len(fingerprints.comp)} | ({len(fingerprints.struct_reason)}
                                                                   if fingerprints.struct_reason else set())
    return fingerprints if lengths == {expected} else None


def split_reference(split: CrystalDataset, *, executor=None, cache: bool = True,
                    progress_bar: bool = True) -> ReferenceSet:
    """Every crystal of ``split`` (a ``load_split`` result) with its fingerprints, from the cache when
    it holds them."""
    key = cache_key(split)
    fingerprints = load_fingerprints(key, len(split)) if cache else None
    if fingerprints is None:
        fingerprints = compute_fingerprints(split.structures, executor=executor, progress_bar=progress_bar)
        if cache:
            save_fingerprints(key, fingerprints)
    return ReferenceSet(list(split.structures), fingerprints)


def _split_reference_own_pool(split: CrystalDataset, workers: int, cache: bool) -> ReferenceSet:
    with process_pool(workers) as pool:
        return split_reference(split, executor=pool, cache=cache, progress_bar=False)


def _in_background(call) -> cf.Future:
    """Start ``call()`` on a thread of its own; return its future at once."""
    thread = cf.ThreadPoolExecutor(1, thread_name_prefix="split-reference")
    future = thread.submit(call)
    thread.shutdown(wait=False)   # the thread ends with its one task
    return future


def _default_workers() -> int:
    return max(1, usable_cpus() - 2)   # two CPUs stay with the training process that feeds the GPU


def split_reference_in_background(split: CrystalDataset, *, workers: int | None = None,
                                  cache: bool = True) -> cf.Future:
    """Start :func:`split_reference` on a process pool of its own and return at once; ``.result()``
    gives the ReferenceSet. A notebook starts it before training on a GPU, when its CPUs are idle.

    workers: default all CPUs but two, left to the training process that feeds the GPU."""
    workers = workers or _default_workers()
    return _in_background(lambda: _split_reference_own_pool(split, workers, cache))


class CoverageReference:
    """The test crystals COV is scored against: every crystal of ``split`` (``n_reference="all"``,
    CDVAE's protocol) or a seeded random subset of ``n_reference`` of them.

    With ``background=True`` (a GPU is about to train while the CPUs idle) a whole split starts
    fingerprinting at once; :meth:`reference_set` collects it, or computes what is missing.
    :meth:`load` also parses the split in the background."""

    def __init__(self, split: CrystalDataset | cf.Future, n_reference: int | str, *, seed: int = 0,
                 background: bool = False):
        # ``split`` may still be parsing (a future, from ``load``), then ``load`` sets ``_pending``
        self.whole = n_reference == "all"
        self._n_reference, self._seed, self._structures = n_reference, seed, None
        if isinstance(split, cf.Future):
            self._split, self._pending = split, None
            return
        self._split = cf.Future()
        self._split.set_result(split)
        self._pending = split_reference_in_background(split) if self.whole and background else None

    @classmethod
    def load(cls, dataset: str, split: str, n_reference: int | str, *, path=None, limit: int | None = None,
             seed: int = 0, background: bool = False, own_file: bool = False) -> "CoverageReference":
        """``load_split`` then the reference. With ``background=True`` and a whole split, return at
        once: parsing (MP-20 test: ~11 s on 16 CPUs) and fingerprinting run while the GPU trains. A
        missing file still raises here; a parse failure is raised where the crystals are first used."""
        if not (background and n_reference == "all"):
            return cls(load_split(dataset, split, path=path, limit=limit, own_file=own_file), n_reference, seed=seed)
        file = locate(dataset, split, path, own_file=own_file)
        parsing = cf.Future()
        workers = _default_workers()

        def parse_then_fingerprint() -> ReferenceSet:
            try:
                parsed = load_split(dataset, split, path=file, limit=limit, progress_bar=False, workers=workers,
                                    own_file=own_file)
            except BaseException as error:   # whoever asks for the crystals gets the reason
                parsing.set_exception(error)
                raise
            parsing.set_result(parsed)
            return _split_reference_own_pool(parsed, workers, True)

        reference = cls(parsing, n_reference, seed=seed)
        reference._pending = _in_background(parse_then_fingerprint)
        return reference

    @property
    def split(self) -> CrystalDataset:
        return self._split.result()

    @property
    def structures(self) -> list[Structure]:
        """The reference crystals in a seeded random order, so the first few are a fair sample
        (reconstruction, pictures)."""
        if self._structures is None:
            split = self.split
            rng = np.random.default_rng(self._seed)
            order = (rng.permutation(len(split)) if self.whole
                     else rng.choice(len(split), min(int(self._n_reference), len(split)), replace=False))
            self._structures = [split.structures[i] for i in order]
        return self._structures

    def __len__(self) -> int:
        return len(self.structures)

    def reference_set(self, executor=None) -> ReferenceSet:
        if self._pending is not None:
            return self._pending.result()
        if self.whole:   # cached in the data cache: computed once per machine
            return split_reference(self.split, executor=executor)
        return prepare_reference(self.structures, executor=executor)


__all__ = ["CoverageReference", "split_reference", "split_reference_in_background", "cache_key", "load_fingerprints",
           "save_fingerprints"]

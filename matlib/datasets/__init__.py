"""The benchmark CSVs: finding, verifying and loading them, one concern per module.

``sources`` (locate a split, download it, verify its checksum; which split to train on),
``parse`` (CIF strings to Structures, a reason for each row that is not a crystal),
``dataset`` (``CrystalDataset``, ``load_split``, ``load_table``, ``training_crystals``),
``cache`` (the processed-tensor cache) and ``errors``. Everything public is importable from here:
``from matlib import datasets; datasets.load_split("mp_20", "val")``.
"""
from .cache import cache_dir, clear_cache, read_cached, write_cached
from .dataset import CACHE_VERSION, CrystalDataset, load_split, load_table, training_crystals
from .errors import ChecksumError, DataNotFoundError, MalformedRowError
from .parse import MAX_CELL_LENGTH, MIN_DISTANCE, MIN_VOLUME_PER_ATOM, parse_cif, parse_cifs
from .sources import (DOWNLOAD_DEADLINE_S, MAX_DOWNLOAD_BYTES, downloads_dir, fetch, git_blob_id, locate,
                      resolve_train_split, sha256_file, source_url, verify)

__all__ = ["cache_dir", "clear_cache", "read_cached", "write_cached", "CACHE_VERSION", "CrystalDataset", "load_split",
           "load_table", "training_crystals", "ChecksumError", "DataNotFoundError", "MalformedRowError",
           "MAX_CELL_LENGTH", "MIN_DISTANCE", "MIN_VOLUME_PER_ATOM", "parse_cif", "parse_cifs", "DOWNLOAD_DEADLINE_S",
           "MAX_DOWNLOAD_BYTES", "downloads_dir", "fetch", "git_blob_id", "locate", "resolve_train_split",
           "sha256_file", "source_url", "verify"]

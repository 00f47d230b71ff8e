"""A split as Wyckoff sequences, encoded once and cached (pyxtal's symmetry search costs ~20 ms a
crystal). Crystals it cannot encode, or with more sites than the model holds, are counted, never
silently dropped: ``WyckoffSplit.skipped`` says how many and why."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..datasets import CrystalDataset, sha256_file
from ..datasets.cache import read_cached, write_cached
from ..parallel import usable_cpus
from ..wyckoff import encode_many
from .sites import SiteBatch, site_batch

ENCODING_VERSION = 1


@dataclass
class WyckoffSplit:
    sites: SiteBatch
    rows: torch.Tensor                     # row of each encoded crystal in the split's table
    skipped: dict[str, int]

    def __len__(self) -> int:
        return len(self.sites)


def wyckoff_split(data: CrystalDataset, max_sites: int, *, tol: float = 0.01, workers: int | None = None,
                  progress_bar: bool | None = None) -> WyckoffSplit:
    """Encode every crystal of a loaded split (cached under the split's own cache identity)."""
    import pyxtal

    key = (f"wyckoff-{data.name}-{data.split}-{sha256_file(data.source)[:16]}-n{len(data)}-tol{tol}-s{max_sites}"
           f"-pyxtal{pyxtal.__version__}-v{ENCODING_VERSION}")
    cached = read_cached(key)
    if cached is not None:
        t, meta = cached
        return WyckoffSplit(SiteBatch(t["space_group"], t["wyckoff"], t["element"], t["free"], t["num_sites"],
                                      t["lattice"]), t["rows"], meta["skipped"])
    encoded, skipped = encode_many(data.structures, tol=tol, workers=workers or usable_cpus(),
                                   progress_bar=progress_bar)
    kept = []
    for row, crystal in enumerate(encoded):
        if crystal is None:
            continue
        if len(crystal.sites) > max_sites:
            skipped[f"more than {max_sites} Wyckoff sites"] += 1
            continue
        kept.append(row)
    if not kept:
        raise ValueError(f"no crystal of {data.name}/{data.split} could be encoded: {dict(skipped)}")
    sites = site_batch([encoded[row] for row in kept], max_sites)
    rows = torch.tensor(kept)
    write_cached(key, {"space_group": sites.space_group, "wyckoff": sites.wyckoff, "element": sites.element,
                       "free": sites.free, "num_sites": sites.num_sites, "lattice": sites.lattice, "rows": rows},
                 {"skipped": dict(skipped)})
    return WyckoffSplit(sites, rows, dict(skipped))

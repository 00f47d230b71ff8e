"""A whole split as the coverage reference: fingerprinted once, then read from the data cache."""
import threading

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from matlib.datasets import MalformedRowError, cache_dir, load_split
from matlib.evaluation import CoverageReference, reference_cache
from matlib.evaluation.reference_cache import cache_key, split_reference


def same(a, b):
    return all((x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y, equal_nan=True))
               for x, y in zip(a, b))


def test_fingerprints_are_cached_then_read_back_unchanged(isolated_cache, monkeypatch):
    split = load_split("perov_5", "test", limit=5, progress_bar=False)
    split.structures[1] = Structure(Lattice.cubic(0.5), ["Na", "Na"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # too dense: fails
    first = split_reference(split, progress_bar=False)
    assert len(first) == 5 and first.fingerprints.struct[1] is None and first.fingerprints.comp[1] is not None
    assert (cache_dir() / f"{cache_key(split)}.safetensors").exists()

    def refuse(*args, **kwargs):
        raise AssertionError("fingerprints were computed again")

    monkeypatch.setattr(reference_cache, "compute_fingerprints", refuse)
    again = split_reference(split, progress_bar=False)
    assert same(again.fingerprints.struct, first.fingerprints.struct)
    assert same(again.fingerprints.comp, first.fingerprints.comp)   # raw Magpie keeps its NaN entries
    assert again.fingerprints.struct_reason == first.fingerprints.struct_reason
    assert again.structures == first.structures


def test_a_broken_or_stale_cache_is_rebuilt(isolated_cache, monkeypatch):
    split = load_split("perov_5", "test", limit=3, progress_bar=False)
    split_reference(split, progress_bar=False)
    tensors = cache_dir() / f"{cache_key(split)}.safetensors"
    tensors.write_bytes(b"not safetensors")
    assert reference_cache.load_fingerprints(cache_key(split), len(split)) is None
    rebuilt = split_reference(split, progress_bar=False)
    assert rebuilt.fingerprints.ok().all()
    other = cache_key(split)
    monkeypatch.setattr(reference_cache, "_versions", lambda: "matminer0.0.1-pymatgen2020.1.1")
    assert cache_key(split) != other                       # another matminer or pymatgen: another file
    assert reference_cache.load_fingerprints(other, len(split)) is None   # and a stale one is refused
    assert reference_cache.load_fingerprints(cache_key(split), len(split) + 1) is None


def test_cache_off_computes_and_writes_nothing(isolated_cache):
    split = load_split("perov_5", "test", limit=2, progress_bar=False)
    split_reference(split, cache=False, progress_bar=False)
    assert not list(cache_dir().glob("*fingerprints*"))


def test_background_fingerprints_match_the_foreground_ones_and_fill_the_cache(isolated_cache):
    split = load_split("perov_5", "test", limit=6, progress_bar=False)
    pending = reference_cache.split_reference_in_background(split, workers=2)
    background = pending.result(timeout=300)
    assert (cache_dir() / f"{cache_key(split)}.safetensors").exists()
    foreground = split_reference(split, cache=False, progress_bar=False)
    assert same(background.fingerprints.struct, foreground.fingerprints.struct)
    assert same(background.fingerprints.comp, foreground.fingerprints.comp)
    assert background.structures == foreground.structures


def test_a_failure_in_the_background_reaches_the_caller(isolated_cache, monkeypatch):
    split = load_split("perov_5", "test", limit=2, progress_bar=False)

    def broken(*args, **kwargs):
        raise RuntimeError("fingerprinting broke")

    monkeypatch.setattr(reference_cache, "compute_fingerprints", broken)
    with pytest.raises(RuntimeError, match="fingerprinting broke"):
        reference_cache.split_reference_in_background(split, workers=1, cache=False).result(timeout=300)


def test_coverage_reference_takes_a_seeded_subset_or_the_whole_split(isolated_cache):
    split = load_split("perov_5", "test", limit=12, progress_bar=False)
    subset = CoverageReference(split, 5, seed=3)
    assert len(subset) == 5 and len({id(s) for s in subset.structures}) == 5   # drawn without replacement
    assert [s.volume for s in CoverageReference(split, 5, seed=3).structures] == [s.volume for s in subset.structures]
    assert [s.volume for s in CoverageReference(split, 5, seed=4).structures] != [s.volume for s in subset.structures]
    assert len(subset.reference_set().structures) == 5
    assert not list(cache_dir().glob("*fingerprints*"))   # a subset is never cached as the split
    whole = CoverageReference(split, "all", seed=3)
    assert sorted(s.volume for s in whole.structures) == sorted(s.volume for s in split.structures)
    assert len(whole.reference_set().structures) == len(split)
    assert (cache_dir() / f"{cache_key(split)}.safetensors").exists()
    assert len(CoverageReference(split, 50).structures) == len(split)   # more than the split: all of it


def test_coverage_reference_in_the_background_gives_the_foreground_result(isolated_cache):
    split = load_split("perov_5", "test", limit=4, progress_bar=False)
    CoverageReference(split, 3, background=True).reference_set()
    assert not list(cache_dir().glob("*fingerprints*"))   # a subset starts no whole-split job
    background = CoverageReference(split, "all", background=True).reference_set()
    foreground = split_reference(split, cache=False, progress_bar=False)
    assert same(background.fingerprints.struct, foreground.fingerprints.struct)
    assert same(background.fingerprints.comp, foreground.fingerprints.comp)
    assert background.structures == foreground.structures


def test_coverage_reference_load_parses_in_the_background_to_the_same_reference(isolated_cache):
    loaded = CoverageReference.load("perov_5", "test", "all", limit=5, seed=2, background=True)
    split = load_split("perov_5", "test", limit=5, progress_bar=False)
    direct = CoverageReference(split, "all", seed=2)
    assert loaded.whole and len(loaded) == len(split)
    assert [s.volume for s in loaded.structures] == [s.volume for s in direct.structures]   # same seeded order
    background = loaded.reference_set()
    foreground = split_reference(split, cache=False, progress_bar=False)
    assert same(background.fingerprints.struct, foreground.fingerprints.struct)
    assert background.structures == foreground.structures
    subset = CoverageReference.load("perov_5", "test", 3, limit=5, seed=2, background=True)   # parsed at once
    assert [s.volume for s in subset.structures] == [s.volume for s in CoverageReference(split, 3, seed=2).structures]


def test_coverage_reference_load_reports_a_missing_file_at_once(isolated_cache, tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a file nor a folder"):
        CoverageReference.load("perov_5", "test", "all", path=tmp_path / "nowhere", background=True)


def test_coverage_reference_load_hands_a_background_parse_failure_to_the_caller(isolated_cache, tmp_path):
    table = tmp_path / "test.csv"
    table.write_text(",material_id,heat_ref\n0,a,1.0\n")   # no cif column
    reference = CoverageReference.load("perov_5", "test", "all", path=table, background=True, own_file=True)
    with pytest.raises(MalformedRowError, match="no 'cif' column"):
        reference.structures
    with pytest.raises(MalformedRowError):
        reference.reference_set()


def test_coverage_reference_load_returns_before_the_split_is_parsed(isolated_cache, monkeypatch):
    gate = threading.Event()
    parse = reference_cache.load_split

    def held(*args, **kwargs):
        assert gate.wait(timeout=30), "load() waited for the parse"
        return parse(*args, **kwargs)

    monkeypatch.setattr(reference_cache, "load_split", held)
    reference = CoverageReference.load("perov_5", "test", "all", limit=4, background=True)   # returns at once
    gate.set()
    assert len(reference.structures) == 4 and len(reference.reference_set().structures) == 4

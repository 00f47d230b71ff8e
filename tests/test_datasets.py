"""Dataset lookup order, checksums, and what happens to bad rows."""
import gzip
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from matlib import datasets, registry
from matlib.datasets import parse, sources
from matlib.datasets import ChecksumError, DataNotFoundError, MalformedRowError, load_split, load_table, locate
from matlib.registry import UnknownDatasetError


def place(src, folder, dataset="perov_5", split="val"):
    target = folder / dataset / src.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, target)
    return target


@pytest.fixture
def perov_val(data_root):
    return datasets.locate("perov_5", "val", path=data_root, download=False)


@pytest.fixture
def no_download(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")
    monkeypatch.setattr(sources, "fetch", refuse)


def test_environment_variable_is_used(perov_val, isolated_cache, no_download):
    assert locate("perov_5", "val") == perov_val


def test_explicit_file_wins_over_everything(tmp_path, perov_val, isolated_cache):
    mine = tmp_path / "my_perovskites.csv"
    mine.write_bytes(sources._read_bytes(perov_val))
    assert locate("perov_5", "val", path=mine) == mine


def test_explicit_folder_is_searched_and_verified(tmp_path, perov_val, isolated_cache):
    copy = place(perov_val, tmp_path / "mine")
    assert locate("perov_5", "val", path=tmp_path / "mine") == copy


def test_environment_beats_download_cache(tmp_path, perov_val, isolated_cache):
    cached = place(perov_val, isolated_cache / "downloads")
    assert locate("perov_5", "val") != cached


def test_download_cache_used_without_environment(perov_val, isolated_cache, monkeypatch, no_download):
    monkeypatch.delenv("MATLIB_DATA", raising=False)
    cached = place(perov_val, isolated_cache / "downloads")
    assert locate("perov_5", "val") == cached


def upstream_copy(tmp_path, perov_val, content=None):
    folder = tmp_path / "upstream" / "perov_5"
    folder.mkdir(parents=True)
    (folder / "val.csv").write_bytes(content if content is not None else sources._read_bytes(perov_val))
    return "file://" + str(tmp_path / "upstream") + "/{dataset}/{split}.csv"


def test_download_is_verified_and_cached(tmp_path, perov_val, isolated_cache, monkeypatch):
    monkeypatch.delenv("MATLIB_DATA", raising=False)
    monkeypatch.delenv("MATLIB_DATA_URL", raising=False)     # the registry's URL is what this test replaces
    url = upstream_copy(tmp_path, perov_val)
    spec = registry.DATASETS["perov_5"]
    monkeypatch.setitem(registry.DATASETS, "perov_5", registry.DatasetSpec(**{**spec.__dict__, "url_template": url}))
    got = locate("perov_5", "val")
    assert got == isolated_cache / "downloads" / "perov_5" / "val.csv"
    assert datasets.git_blob_id(got.read_bytes()) == spec.splits["val"].upstream_blob


def test_download_with_wrong_checksum_is_refused(tmp_path, perov_val, isolated_cache, monkeypatch):
    monkeypatch.delenv("MATLIB_DATA", raising=False)
    monkeypatch.delenv("MATLIB_DATA_URL", raising=False)     # the registry's URL is what this test replaces
    url = upstream_copy(tmp_path, perov_val, content=b"material_id,cif\n1,tampered\n")
    spec = registry.DATASETS["perov_5"]
    monkeypatch.setitem(registry.DATASETS, "perov_5", registry.DatasetSpec(**{**spec.__dict__, "url_template": url}))
    with pytest.raises(ChecksumError, match="git blob id"):
        locate("perov_5", "val")
    assert not (isolated_cache / "downloads" / "perov_5" / "val.csv").exists()


def test_missing_file_error_says_what_was_tried(isolated_cache, monkeypatch, no_download):
    monkeypatch.delenv("MATLIB_DATA", raising=False)
    with pytest.raises(DataNotFoundError) as err:
        locate("carbon_24", "test")
    text = str(err.value)
    assert "carbon_24/test.csv not found" in text and "MATLIB_DATA" in text and "network disabled" in text


def test_checksum_mismatch_refuses_the_file(tmp_path, perov_val, isolated_cache, monkeypatch):
    bad = place(perov_val, tmp_path / "data")
    raw = bytearray(bad.read_bytes())
    raw[-20] ^= 0xFF
    bad.write_bytes(bytes(raw))
    monkeypatch.setenv("MATLIB_DATA", str(tmp_path / "data"))
    with pytest.raises(ChecksumError, match=str(bad)):
        locate("perov_5", "val")


def test_unknown_dataset_and_split():
    with pytest.raises(UnknownDatasetError, match="known datasets are"):
        locate("perov_6", "val")
    with pytest.raises(DataNotFoundError, match="has no split 'training'"):
        locate("perov_5", "training")


def test_train_split_is_registered_but_absent_here(isolated_cache, no_download):
    with pytest.raises(DataNotFoundError, match="perov_5/train.csv not found"):
        locate("perov_5", "train")


@pytest.fixture
def broken_csv(tmp_path, perov_val):
    df = pd.read_csv(perov_val, index_col=0, nrows=6)
    df.iloc[1, df.columns.get_loc("cif")] = "data_broken\n_cell_length_a 3.0\nloop_\n_atom_site_label\n"
    cif = df.iloc[3]["cif"]
    first = cif.split("_atom_site_occupancy")[1].split()[0]  # the element symbol of the first site
    df.iloc[3, df.columns.get_loc("cif")] = cif.replace(f"  {first}  {first}", "  Xx  Xx", 1)
    path = tmp_path / "broken.csv"
    df.to_csv(path)
    return path


def test_bad_rows_are_counted_not_dropped(broken_csv, isolated_cache):
    ds = load_split("perov_5", "val", path=broken_csv, own_file=True, progress_bar=False)
    assert ds.rows_read == 6 and len(ds) == 4 and len(ds.skipped) == 2
    assert ds.skipped["row"].tolist() == [1, 3]
    assert "unparsable CIF" in ds.skipped["reason"].iloc[0] or "not a CIF" in ds.skipped["reason"].iloc[0]
    assert "Xx" in ds.skipped["reason"].iloc[1]
    assert len(ds.table) == len(ds.structures)


def test_a_process_pool_parses_the_same_crystals_and_the_same_bad_rows(broken_csv, isolated_cache, monkeypatch):
    serial = load_split("perov_5", "val", path=broken_csv, own_file=True, cache=False, progress_bar=False)
    monkeypatch.setattr(parse, "PARALLEL_PARSE_ROWS", 2)
    monkeypatch.setattr(parse, "usable_cpus", lambda: 3)   # a pool of three, even on a 2-CPU runner
    pooled = load_split("perov_5", "val", path=broken_csv, own_file=True, cache=False, progress_bar=False)
    assert pooled.structures == serial.structures and [s.lattice for s in pooled.structures] == [
        s.lattice for s in serial.structures]
    assert pooled.skipped.equals(serial.skipped) and pooled.table.equals(serial.table)


def test_strict_mode_names_file_and_row(broken_csv, isolated_cache):
    with pytest.raises(MalformedRowError, match=r"broken\.csv, row 1"):
        load_split("perov_5", "val", path=broken_csv, own_file=True, strict=True, cache=False, progress_bar=False)


def test_tensor_cache_round_trip_and_repair(isolated_cache):
    first = load_split("carbon_24", "test", limit=12, progress_bar=False)
    files = sorted((isolated_cache / "cache").glob("*.safetensors"))
    assert len(files) == 1
    again = load_split("carbon_24", "test", limit=12, progress_bar=False)
    assert [s.matches(t) for s, t in zip(first.structures, again.structures)] == [True] * 12
    pd.testing.assert_frame_equal(first.table, again.table, check_dtype=False)
    files[0].write_bytes(b"garbage")
    repaired = load_split("carbon_24", "test", limit=12, progress_bar=False)
    assert len(repaired) == 12


def test_load_table_and_targets(isolated_cache):
    table = load_table("mp_20", "test", limit=50)
    assert len(table) == 50 and {"cif", "formation_energy_per_atom", "band_gap"} <= set(table.columns)
    ds = load_split("mp_20", "test", limit=20, progress_bar=False)
    assert ds.targets().shape == (20,)
    assert ds.targets("band_gap").min() >= 0
    with pytest.raises(KeyError, match="no property"):
        ds.targets("heat_ref")
    assert max(len(s) for s in ds.structures) <= ds.spec.max_atoms


def test_every_registered_file_present_is_accepted(data_root):
    for name, spec in registry.DATASETS.items():
        for split in ("val", "test"):
            for path in (data_root / name / f"{split}.csv.gz", data_root / name / f"{split}.csv"):
                if not path.exists():
                    continue
                datasets.verify(path, name, split)
                assert sum(1 for _ in pd.read_csv(path, usecols=["cif"]).itertuples()) == spec.splits[split].rows


def test_cache_writes_from_several_threads_of_one_process_do_not_collide(isolated_cache):
    import concurrent.futures as cf
    from matlib.datasets import read_cached, write_cached

    def write(i):
        write_cached("shared-key", {"x": torch.full((64,), float(i))}, {"writer": i})

    with cf.ThreadPoolExecutor(4) as threads:
        list(threads.map(write, range(40)))   # each part file is its own: no rename finds another's gone
    tensors, meta = read_cached("shared-key")
    # one file per key holds tensors and metadata: whichever writer won, its halves belong together
    assert len(set(tensors["x"].tolist())) == 1 and tensors["x"][0].item() == meta["writer"]
    assert not list((isolated_cache / "cache").glob("*.part"))


def test_an_edited_or_bit_flipped_cache_is_rebuilt_not_used(isolated_cache):
    first = load_split("perov_5", "test", limit=10, progress_bar=False)
    [path] = (isolated_cache / "cache").glob("*.safetensors")
    pristine = path.read_bytes()
    data = bytearray(pristine)
    data[-9] ^= 0x40                                   # one bit of a stored number (the last tensor's bytes)
    path.write_bytes(bytes(data))
    again = load_split("perov_5", "test", limit=10, progress_bar=False)
    assert [a.lattice.abc == b.lattice.abc for a, b in zip(first.structures, again.structures)] == [True] * 10
    rewritten = path.read_bytes()                       # rebuilt from the CSV, and re-written whole
    assert rewritten != bytes(data) and datasets.read_cached(path.stem) is not None
    edited = rewritten.replace(b'heat_ref', b'heat_rex', 1)  # the metadata (a property's table) edited
    assert edited != rewritten
    path.write_bytes(edited)
    assert datasets.read_cached(path.stem) is None


@pytest.fixture
def http_mirror(tmp_path, monkeypatch):
    """A real HTTP server on 127.0.0.1 serving tmp_path/mirror; yields (folder, url template, request log)."""
    import functools
    import http.server
    import threading

    folder = tmp_path / "mirror"
    folder.mkdir()
    requests: list[str] = []
    for name in ("no_proxy", "NO_PROXY"):           # a proxy configured for the internet must not take these
        monkeypatch.setenv(name, "127.0.0.1,localhost")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_request(self, code="-", size="-"):
            requests.append(self.path)

        def log_message(self, *args):      # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_port}/{{dataset}}/{{split}}.csv", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_clone_alone_downloads_verifies_and_caches_over_http(http_mirror, perov_val, isolated_cache, monkeypatch):
    folder, url, requests = http_mirror
    (folder / "perov_5").mkdir()
    (folder / "perov_5" / "val.csv").write_bytes(sources._read_bytes(perov_val))
    monkeypatch.delenv("MATLIB_DATA", raising=False)
    monkeypatch.setenv("MATLIB_DATA_URL", url)
    got = locate("perov_5", "val")
    assert got == isolated_cache / "downloads" / "perov_5" / "val.csv" and requests == ["/perov_5/val.csv"]
    assert len(load_split("perov_5", "val", limit=20, progress_bar=False)) == 20
    assert locate("perov_5", "val") == got and len(requests) == 1            # the second time from the cache


def test_a_tampered_download_over_http_is_refused_and_not_kept(http_mirror, perov_val, isolated_cache, monkeypatch):
    folder, url, _ = http_mirror
    (folder / "perov_5").mkdir()
    real = sources._read_bytes(perov_val)
    (folder / "perov_5" / "val.csv").write_bytes(real[:-200] + b"0" * 200)      # same size, other bytes
    monkeypatch.delenv("MATLIB_DATA", raising=False)
    monkeypatch.setenv("MATLIB_DATA_URL", url)
    with pytest.raises(ChecksumError, match="git blob id"):
        locate("perov_5", "val")
    assert not list((isolated_cache / "downloads").rglob("val.csv*"))


def test_no_data_and_no_network_says_what_is_missing_and_how_to_get_it(http_mirror, isolated_cache, monkeypatch):
    _, url, requests = http_mirror                                             # serves nothing: a 404
    monkeypatch.delenv("MATLIB_DATA", raising=False)
    monkeypatch.setenv("MATLIB_DATA_URL", url)
    with pytest.raises(DataNotFoundError) as err:
        locate("mp_20", "test")
    text = str(err.value)
    assert "mp_20/test.csv not found" in text and url.format(dataset="mp_20", split="test") in text
    assert "MATLIB_DATA" in text and requests == ["/mp_20/test.csv"]


def test_a_mirror_template_must_name_dataset_and_split(isolated_cache, monkeypatch):
    monkeypatch.delenv("MATLIB_DATA", raising=False)
    monkeypatch.setenv("MATLIB_DATA_URL", "http://127.0.0.1:9/all.csv")
    with pytest.raises(DataNotFoundError, match="must contain"):
        locate("perov_5", "val")


def test_a_mirror_of_the_series_own_copy_is_accepted_by_its_sha256(http_mirror, isolated_cache, monkeypatch):
    """MP-20's val/test here are rebuilt (empty index column): not upstream's blob, but a registered sha256."""
    folder, url, _ = http_mirror
    shared = Path(os.environ["MATLIB_DATA"]) / "mp_20" / "val.csv.gz" if os.environ.get("MATLIB_DATA") else None
    if shared is None or not shared.exists():
        pytest.skip("needs the series' MP-20 copy (../shared/data)")
    (folder / "mp_20").mkdir()
    (folder / "mp_20" / "val.csv").write_bytes(sources._read_bytes(shared))
    monkeypatch.delenv("MATLIB_DATA")
    monkeypatch.setenv("MATLIB_DATA_URL", url)
    got = locate("mp_20", "val")
    assert datasets.verify(got, "mp_20", "val")


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_explicit_file_is_an_error_that_names_it(tmp_path, perov_val, isolated_cache, damage):
    import gzip as gz

    raw = gz.compress(sources._read_bytes(perov_val))
    bad = raw[:len(raw) // 2] if damage == "truncate" else raw[:20] + bytes([raw[20] ^ 0xFF]) + raw[21:]
    file = tmp_path / "perov_5" / "val.csv.gz"
    file.parent.mkdir()
    file.write_bytes(bad)
    named = str(file).replace(".", r"\.")
    with pytest.raises(ChecksumError, match=named):          # a known split is verified, even from path=
        load_split("perov_5", "val", path=file, cache=False, progress_bar=False)
    with pytest.raises(MalformedRowError, match=named):      # and one declared your own still names the file
        load_split("perov_5", "val", path=file, own_file=True, cache=False, progress_bar=False)


def test_an_edited_explicit_file_is_refused_unless_declared_your_own(tmp_path, perov_val, isolated_cache):
    df = pd.read_csv(perov_val, index_col=0, nrows=5)
    df.loc[df.index[0], "heat_ref"] = 123.0                    # one property edited, the CSV still well-formed
    file = tmp_path / "edited.csv"
    df.to_csv(file)
    with pytest.raises(ChecksumError, match="own_file=True"):
        load_table("perov_5", "val", path=file)
    assert load_table("perov_5", "val", path=file, own_file=True)["heat_ref"].iloc[0] == 123.0
    with pytest.raises(DataNotFoundError, match="own_file=True needs path="):
        locate("perov_5", "val", own_file=True)


def test_an_explicit_folder_without_the_file_is_an_error_not_a_fallback(tmp_path, isolated_cache):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="holds no perov_5/val.csv"):
        locate("perov_5", "val", path=tmp_path / "empty")


def test_downloads_have_an_overall_deadline_and_a_size_cap(http_mirror, monkeypatch):
    import time as clock

    folder, url, _ = http_mirror
    (folder / "big").mkdir()
    (folder / "big" / "x.csv").write_bytes(b"0" * 300_000)
    target = url.format(dataset="big", split="x")
    with pytest.raises(ChecksumError, match="exceeded 100,000 bytes"):
        sources._download(target, timeout=5, max_bytes=100_000)
    ticks = iter(range(0, 10_000, 7))                            # every read "takes" 7 s
    monkeypatch.setattr(sources.time, "monotonic", lambda: next(ticks))
    with pytest.raises(TimeoutError, match="more than 10 s"):
        sources._download(target, timeout=5, deadline_s=10)


def _nacl_cif(a=5.64, atoms=None) -> str:
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    structure = atoms or Structure(Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return str(CifWriter(structure))


@pytest.mark.parametrize("edit, reason", [
    (lambda t: t.replace("_cell_length_a   5.64000000", "_cell_length_a   100000.0"), "outside (0, 500]"),
    (lambda t: t.replace("_cell_length_a   5.64000000", "_cell_length_a   1e9"), "outside (0, 500]"),
    (lambda t: t.replace("_cell_length_a   5.64000000", "_cell_length_a   -5.64"), "outside (0, 500]"),
    (lambda t: t.replace("_cell_length_a   5.64000000", "_cell_length_a   nan"), "_cell_length_a is nan"),
    (lambda t: t.replace("_cell_angle_beta   90.00000000", "_cell_angle_beta   180.0"), "outside (0, 180)"),
    (lambda t: t.replace("_cell_length_b   5.64000000", "_cell_length_b   five"), "not a number"),
])
def test_absurd_cells_are_refused_before_any_reduction(edit, reason):
    import time as clock

    text = _nacl_cif()
    assert "_cell_length_a   5.64000000" in text and "_cell_angle_beta   90.00000000" in text
    started = clock.perf_counter()
    with pytest.raises(ValueError, match=re.escape(reason)):
        datasets.parse_cif(edit(text))
    assert clock.perf_counter() - started < 1.0                  # microseconds, not a 40-s Niggli reduction


def test_crowded_and_degenerate_crystals_are_refused():
    from pymatgen.core import Lattice, Structure

    close = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.008, 0, 0]])          # 0.04 Å apart
    with pytest.raises(ValueError, match="0.04 Å apart"):
        datasets.parse_cif(_nacl_cif(atoms=close))
    squeezed = Structure(Lattice.cubic(6.6 ** (1 / 3)), ["C"] * 8,                        # 6.6 Å³ for 8 atoms
                         [[x / 2, y / 2, z / 2] for x in (0, 1) for y in (0, 1) for z in (0, 1)])
    with pytest.raises(ValueError, match="per atom"):
        datasets.parse_cif(_nacl_cif(atoms=squeezed))
    assert len(datasets.parse_cif(_nacl_cif())) == 2                                      # real rock salt is fine


def test_rows_larger_than_the_dataset_allows_are_skipped_with_a_reason(tmp_path, isolated_cache):
    from pymatgen.core import Lattice, Structure

    big = Structure(Lattice.cubic(20.0), ["Na"] * 30, [[i / 30, (i * 7 % 30) / 30, (i * 11 % 30) / 30]
                                                       for i in range(30)])
    frame = pd.DataFrame({"material_id": ["ok", "big"], "heat_ref": [0.1, 0.2],
                          "cif": [_nacl_cif(), _nacl_cif(atoms=big)]})
    file = tmp_path / "perov_5" / "val.csv"
    file.parent.mkdir()
    frame.to_csv(file)
    ds = load_split("perov_5", "val", path=file, own_file=True, cache=False, progress_bar=False)
    limit = registry.DATASETS["perov_5"].max_atoms
    assert limit < 30 and len(ds) == 1 and ds.skipped.reason.tolist() == [f"30 atoms, more than perov_5's {limit}"]


def test_pymatgens_own_reason_is_kept():
    text = _nacl_cif().replace("0.00000000  1\n", "0.00000000  2.0\n").replace("0.50000000  1\n", "0.50000000  2.0\n")
    with pytest.raises(ValueError, match="Invalid CIF file with no structures") as err:
        datasets.parse_cif(text)
    assert "(pymatgen: " in str(err.value) and "Occupancy 2.0 exceeded tolerance" in str(err.value)


def test_fuzzed_rows_never_hang_crash_or_vanish(perov_val, tmp_path, isolated_cache):
    """1,000 real rows mutated (cut short, bytes flipped, huge or NaN numbers, unknown symbols,
    duplicated sites): each parses or gives a reason, quickly."""
    import random
    import time as clock

    cifs = pd.read_csv(perov_val, usecols=["cif"])["cif"].tolist()[:200]
    rng = random.Random(0)

    def mutate(text: str) -> str:
        kind = rng.randrange(6)
        if kind == 0:
            return text[:rng.randrange(len(text))]
        if kind == 1:
            chars = list(text)
            for _ in range(rng.randrange(1, 6)):
                i = rng.randrange(len(chars))
                chars[i] = chr(rng.randrange(32, 127))
            return "".join(chars)
        if kind == 2:
            return re.sub(r"\d+\.\d+", lambda m: rng.choice(["1e30", "nan", "-inf", "1e5", m.group(0)]), text, count=3)
        if kind == 3:
            return re.sub(r"\b(Ba|Ti|O|Sr|Ca)\b", "Qq", text, count=1)
        if kind == 4:
            lines = text.splitlines()
            sites = [line for line in lines if re.match(r"\s*[A-Z][a-z]?\s+[A-Z][a-z]?\d+\s", line)]
            return "\n".join(lines + sites[:2]) + "\n"
        return text

    mutated = [mutate(cifs[k % len(cifs)]) for k in range(1000)]
    reasons, slowest = 0, 0.0
    for text in mutated:                                    # each row within a time limit
        started = clock.perf_counter()
        outcome = parse._parse_or_reason(text, niggli=True)
        slowest = max(slowest, clock.perf_counter() - started)
        assert isinstance(outcome, (str, parse.Structure)), type(outcome)
        reasons += isinstance(outcome, str)
    assert 0 < reasons < 1000 and slowest < 5.0
    file = tmp_path / "perov_5" / "val.csv"                 # and through the loader: every row accounted for
    file.parent.mkdir()
    pd.DataFrame({"material_id": range(1000), "heat_ref": 0.0, "cif": mutated}).to_csv(file)
    ds = load_split("perov_5", "val", path=file, own_file=True, cache=False, progress_bar=False)
    assert ds.rows_read == 1000 and len(ds) + len(ds.skipped) == 1000 and len(ds.skipped) == reasons
    assert ds.skipped.reason.str.len().gt(0).all()


def test_auto_training_split_is_train_when_a_verified_train_file_is_found(tmp_path, perov_val, isolated_cache,
                                                                          monkeypatch, capsys):
    # a train file of the dataset, registered as a known version (as the real upstream file is)
    folder = tmp_path / "data"
    train = folder / "perov_5" / "train.csv"
    train.parent.mkdir(parents=True)
    train.write_bytes(sources._read_bytes(perov_val))
    spec = registry.get_spec("perov_5")
    monkeypatch.setitem(spec.splits, "train", registry.SplitSpec(spec.splits["train"].upstream_blob,
                                                                 (datasets.sha256_file(train),), rows=11356))
    monkeypatch.setenv("MATLIB_DATA", str(folder))
    assert datasets.resolve_train_split("perov_5") == "train"
    assert capsys.readouterr().out == ""                                  # no notice when nothing was given up
    assert datasets.resolve_train_split("perov_5", "val") == "val"       # an explicit choice is kept


def test_auto_training_split_falls_back_to_val_with_a_notice_without_file_or_network(tmp_path, isolated_cache,
                                                                                     monkeypatch, capsys):
    monkeypatch.setenv("MATLIB_DATA", str(tmp_path))                      # holds no train split
    monkeypatch.setenv("MATLIB_DATA_URL", "http://127.0.0.1:9/{dataset}/{split}.csv")   # nothing listens there
    assert datasets.resolve_train_split(["perov_5", "mp_20"]) == "val"
    notice = capsys.readouterr().out.strip().splitlines()
    assert len(notice) == 1 and notice[0].startswith("train_split='auto': perov_5's train split is not available")
    assert "3,787 crystals instead of 11,356 (3.0x fewer)" in notice[0]
    with pytest.raises(DataNotFoundError, match="no split 'training'"):
        datasets.resolve_train_split("perov_5", "training")

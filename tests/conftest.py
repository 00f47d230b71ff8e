import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_runtest_logreport(report):
    """One line per notebook as it finishes: the notebook tests run for many minutes in all."""
    if report.when == "call" and ("notebooks" in report.keywords or "browser" in report.keywords):
        name = report.nodeid.split("::")[-1]
        _NOTEBOOK_SECONDS[name] = {"seconds": round(report.duration, 1), "outcome": report.outcome}
        reporter = _CONFIG.pluginmanager.get_plugin("terminalreporter") if _CONFIG else None
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(f"  {name}: {report.outcome} in {report.duration:.0f} s")


def pytest_sessionfinish(session, exitstatus):
    """The minutes of a whole run (every notebook's smoke test in it) for the README's generated
    minutes table: outputs/timings/make_test.json (commit it to docs/results/timings/ to publish)."""
    import json
    import platform
    import time

    if not any(name.startswith("test_notebook_smoke[") for name in _NOTEBOOK_SECONDS) or session.testsfailed:
        return
    from matlib.parallel import usable_cpus

    record = {"command": "make test", "pytest_seconds": round(time.time() - _STARTED, 1),
              "tests": session.testscollected, "cpus": usable_cpus(), "machine": platform.machine(),
              "python": platform.python_version(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "notebook_tests": _NOTEBOOK_SECONDS}
    folder = ROOT / "outputs" / "timings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "make_test.json").write_text(json.dumps(record, indent=1) + "\n")


_CONFIG = None
_NOTEBOOK_SECONDS: dict[str, dict] = {}
_STARTED = __import__("time").time()


def pytest_configure(config):
    global _CONFIG
    _CONFIG = config
    # The benchmark CSVs live beside the project, never in it.
    if "MATLIB_DATA" not in os.environ and SHARED_DATA.is_dir():
        os.environ["MATLIB_DATA"] = str(SHARED_DATA)
    os.environ.setdefault("MATLIB_PROGRESS", "0")
    os.environ.setdefault("MATLIB_VIEWER", "static")
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder of benchmark CSVs: $MATLIB_DATA, else the download cache after fetching and
    verifying every val and test split (a clone with nothing beside it)."""
    from matlib import datasets, registry

    root = os.environ.get("MATLIB_DATA")
    if root and Path(root).is_dir():
        return Path(root)
    missing = []
    for name in registry.DATASETS:
        for split in ("val", "test"):
            try:
                datasets.locate(name, split)
            except datasets.DataNotFoundError as err:
                missing.append(str(err).splitlines()[0])
    if missing:
        pytest.fail("the benchmark datasets could not be found or downloaded:\n  " + "\n  ".join(missing) +
                    "\nSet MATLIB_DATA to a folder holding <dataset>/<split>.csv[.gz] (../shared/data beside "
                    "this clone), or let the tests download them (network access to the upstream URLs, or a "
                    "mirror in MATLIB_DATA_URL).", pytrace=False)
    os.environ["MATLIB_DATA"] = str(datasets.downloads_dir())     # from here on, as if it were set
    return datasets.downloads_dir()


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """A private download/tensor cache so tests never touch the repo's data/ folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MATLIB_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def encoded_mp20_val(data_root):
    """``(limit, max_sites) -> list``: the first ``limit`` MP-20 val crystals as Wyckoff crystals
    with at most ``max_sites`` sites (the autoregressive model's and PODGen's tests start from them)."""
    import warnings

    from matlib.datasets import load_split
    from matlib.wyckoff import encode_many

    def encoded(limit: int, max_sites: int) -> list:
        structures = load_split("mp_20", "val", limit=limit, progress_bar=False).structures
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # pymatgen's CIF rounding notes
            crystals, _ = encode_many(structures)
        return [c for c in crystals if c is not None and len(c.sites) <= max_sites]

    return encoded

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_configure(config):
    # The benchmark CSVs live beside the project, never in it.
    if "MATLIB_DATA" not in os.environ and SHARED_DATA.is_dir():
        os.environ["MATLIB_DATA"] = str(SHARED_DATA)
    os.environ.setdefault("MATLIB_PROGRESS", "0")
    os.environ.setdefault("MATLIB_VIEWER", "static")
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = os.environ.get("MATLIB_DATA")
    if not root or not Path(root).is_dir():
        pytest.fail("MATLIB_DATA must point at the benchmark datasets (../shared/data)")
    return Path(root)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """A private download/tensor cache so tests never touch the repo's data/ folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MATLIB_CACHE", str(cache))
    return cache

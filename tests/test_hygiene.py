"""Notebooks are committed clean and follow the series' skeleton."""
import json
import re
from pathlib import Path

import pytest

from matlib.runner import notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = notebooks(ROOT / "notebooks")


def load(nb):
    return json.loads(nb.read_text())


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name.startswith("00_")
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", nb.name) for nb in NOTEBOOKS)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_skeleton(notebook):
    nb = load(notebook)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    cells = nb["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, "strip outputs before committing"
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    params = "".join(cells[tagged[0]]["source"])
    for name in ("profile", "seed", "device", "out_dir", "train_split"):
        assert re.search(rf"^{name}\s*=", params, re.M), f"parameters cell lacks {name}"
    following = "".join(cells[tagged[0] + 1]["source"])
    assert "config.setup(" in following, "the cell after the parameters derives the configuration"
    assert len(following.splitlines()) <= 12, "the setup cell stays short: presets live in notebooks/presets/"
    assert (ROOT / "notebooks" / "presets" / f"{notebook.stem}.yaml").is_file()
    source = "\n".join("".join(c["source"]) for c in cells)
    assert "results.write_results(" in source
    assert cells[-1]["cell_type"] == "markdown" and "Explore" in "".join(cells[-1]["source"])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_parameters_cell_holds_only_literals(notebook):
    import ast

    cells = load(notebook)["cells"]
    params = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    for node in ast.parse("".join(params["source"])).body:
        assert isinstance(node, ast.Assign), "only assignments in the parameters cell"
        ast.literal_eval(node.value)  # papermill cannot recompute derived values


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_every_notebook_shows_the_code_it_teaches(notebook):
    source = "\n".join("".join(c["source"]) for c in load(notebook)["cells"] if c["cell_type"] == "code")
    assert "viz.show_code(" in source


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_mirrors_match_their_notebooks(notebook):
    """notebooks/mirrors/*.py are the notebooks as py:percent text (for review and diffs), paired by
    notebooks/jupytext.toml: `make mirrors` (jupytext --sync) rewrites them after a notebook changes."""
    import jupytext

    mirror = ROOT / "notebooks" / "mirrors" / f"{notebook.stem}.py"
    assert mirror.is_file(), f"{mirror} is missing: run make mirrors"
    paired = jupytext.read(mirror, fmt="py:percent")
    cells = lambda nb: [(c["cell_type"], "".join(c["source"]).strip("\n")) for c in nb["cells"]]
    assert cells(paired) == cells(load(notebook)), f"{mirror.name} has drifted from its notebook: run make mirrors"


def test_no_mirror_without_its_notebook():
    stems = {nb.stem for nb in NOTEBOOKS}
    assert {p.stem for p in (ROOT / "notebooks" / "mirrors").glob("*.py")} <= stems

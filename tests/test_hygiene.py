"""Notebooks are committed clean and follow the series' skeleton."""
import json
import re
from pathlib import Path

import pytest

from matlib.runner import notebooks

NOTEBOOKS = notebooks(Path(__file__).resolve().parents[1] / "notebooks")


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
    assert "config.resolve(" in following, "the cell after the parameters derives the configuration"
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

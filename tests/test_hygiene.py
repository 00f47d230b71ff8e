"""Notebooks are committed clean and follow the series' skeleton."""
import json
import re
from pathlib import Path

import pytest

from matlib.course.runner import notebooks

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


def _draft_cells(text: str) -> list[tuple[str, str]]:
    """(kind, source) of each cell of a py:percent draft (its header block skipped)."""
    parts = re.split(r"^# %%(.*)\n", text, flags=re.M)[1:]   # header, body, header, body, ...
    out = []
    for header, body in zip(parts[0::2], parts[1::2]):
        kind = "markdown" if "[markdown]" in header else "code"
        lines = body.rstrip("\n").split("\n")
        if kind == "markdown":
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines]
        out.append((kind, "\n".join(lines).strip("\n")))
    return out


@pytest.mark.parametrize("draft", sorted((ROOT / "notebooks" / "drafts").glob("*.py")), ids=lambda p: p.stem)
def test_drafts_match_their_notebooks(draft):
    """notebooks/drafts/*.py are the notebooks as py:percent text (for review and diffs): regenerate
    with `jupytext --to py:percent` after editing a notebook."""
    notebook = json.loads((ROOT / "notebooks" / f"{draft.stem}.ipynb").read_text())
    expected = [(c["cell_type"], "".join(c["source"]).strip("\n")) for c in notebook["cells"]]
    assert _draft_cells(draft.read_text()) == expected, f"{draft.name} has drifted from its notebook"

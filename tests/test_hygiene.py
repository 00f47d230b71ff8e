"""Notebooks are committed clean and follow the series' skeleton; the course stays apart from the lab."""
import ast
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


# The lab (research probes and their outputs) lives apart from the course: docs/ holds documentation
# and results only, and nothing the course runs may depend on lab/, which CI never tests.
LAB_MODULES = {"lab"} | {p.stem for p in (ROOT / "lab").rglob("*.py")}
# a lab file to open (prose may cite lab/README.md; JupyterLab's "/lab/..." URLs are not the folder)
LAB_PATH = re.compile(r"(?<![\w/.-])lab/\S*\.(py|jsonl?|txt|extxyz|pt|safetensors)\b")


def _docstrings(tree) -> set[int]:
    bodies = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return {id(b.body[0].value) for b in bodies
            if b.body and isinstance(b.body[0], ast.Expr) and isinstance(b.body[0].value, ast.Constant)}


def lab_uses(source: str) -> list[str]:
    """Imports of a lab module, `... / "lab"` and strings naming a lab file (docstrings may cite lab/ in prose)."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    joined = {id(n.right) for n in ast.walk(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in LAB_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in LAB_MODULES:
            found.append(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            if (node.value == "lab" and id(node) in joined) or LAB_PATH.search(node.value):
                found.append(repr(node.value))
    return found


def test_docs_hold_no_scripts():
    assert not sorted((ROOT / "docs").rglob("*.py")), "scripts belong in lab/ or benchmarks/, not in docs/"


def test_lab_uses_find_imports_and_paths_but_not_prose():
    assert lab_uses("import probe04\nfrom research_sampler import sample\np = ROOT / 'lab'\nq = open('lab/x.json')") == \
        ["probe04", "research_sampler", "'lab'", "'lab/x.json'"]
    assert lab_uses('"""See lab/README.md."""\nurl = "http://host/lab/tree"\nextra = deps["lab"]\n') == []


@pytest.mark.parametrize("folder", ["matlib", "tests"])
def test_course_code_never_imports_or_reads_the_lab(folder):
    this = Path(__file__).resolve()
    used = {str(p.relative_to(ROOT)): lab_uses(p.read_text()) for p in sorted((ROOT / folder).rglob("*.py"))
            if p.resolve() != this}   # this file names the lab to look for it
    assert not {p: u for p, u in used.items() if u}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebooks_never_import_or_read_the_lab(notebook):
    code = ["".join(c["source"]) for c in load(notebook)["cells"] if c["cell_type"] == "code"]
    source = "\n".join(line for cell in code for line in cell.splitlines() if not line.lstrip().startswith(("%", "!")))
    assert not lab_uses(source)


def test_committed_checkpoints_stay_under_ten_megabytes():
    """DEVELOPERS.md: committed checkpoints (weights and manifests) stay under 10 MB in total."""
    import subprocess

    listed = subprocess.run(["git", "ls-files", "data/checkpoints"], cwd=ROOT, capture_output=True, text=True)
    files = [ROOT / f for f in listed.stdout.split()] if listed.returncode == 0 else \
        [p for p in (ROOT / "data" / "checkpoints").rglob("*") if p.is_file()]
    total = sum(f.stat().st_size for f in files if f.exists())
    assert files and total < 10_000_000, f"{total:,} bytes of committed checkpoints"


def test_committed_data_holds_checkpoints_and_oracle_labels_but_no_dataset():
    """No dataset file is committed: under data/ only checkpoints and the oracle's labels, each label
    file with its manifest and without the dataset's crystals (no CIF column)."""
    import gzip
    import hashlib
    import subprocess

    listed = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    files = [Path(f) for f in listed.stdout.split()]
    assert all(f.parts[1] in ("checkpoints", "oracle") for f in files), [str(f) for f in files]
    labels = [ROOT / f for f in files if f.parts[1] == "oracle" and f.name.endswith(".table.json.gz")]
    for path in labels:
        manifest = json.loads(path.with_name(path.name.replace(".table.json.gz", ".json")).read_text())
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == manifest["sha256"], path.name
        columns = [c.lower() for c in json.loads(gzip.decompress(data))["columns"]]
        assert "cif" not in columns and len(columns) <= 16, (path.name, columns)
    assert not [f for f in files if f.suffix in (".csv", ".parquet", ".feather") or f.name.endswith(".csv.gz")]

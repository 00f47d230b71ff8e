"""The 3D viewer renders: nglview's Python side and its lab extension agree, and every environment
file (pip, conda, Binder) pins the same nglview, ipywidgets and JupyterLab."""
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from pymatgen.core import Lattice, Structure

from matlib import viz

ROOT = Path(__file__).resolve().parents[1]


def test_nglview_asks_for_the_lab_extension_that_is_installed():
    from nglview._frontend import __frontend_version__ as requested

    installed, where = viz.installed_nglview_extension()
    assert json.loads(Path(where).read_text())["name"] == viz.NGLVIEW_EXTENSION
    assert viz.version_matches(requested, installed), f"nglview asks for {requested}, {where} is {installed}"
    assert viz.nglview_mismatch() is None


@pytest.mark.parametrize("requested, installed, ok", [
    ("3.1.5", "3.1.5", True), ("4.0", "4.0.1", True), ("4.0", "3.1.5", False), ("3.1.5", "3.1.4", False),
    ("^3.1", "3.1.5", True), ("^3.1", "3.2.0", True), ("^3.1", "4.0.0", False), ("^3.1.5", "3.1.4", False),
    ("~3.1.2", "3.1.9", True), ("~3.1.2", "3.2.0", False), ("3.1.5", "3.1", False), ("", "3.1.5", False)])
def test_version_matching_follows_the_widget_manager(requested, installed, ok):
    assert viz.version_matches(requested, installed) is ok


def test_view_falls_back_to_a_picture_with_one_notice_when_the_halves_disagree(tmp_path, monkeypatch, capsys):
    import jupyter_core.paths
    import nglview._frontend

    extension = tmp_path / viz.NGLVIEW_EXTENSION
    extension.mkdir()
    (extension / "package.json").write_text(json.dumps({"name": viz.NGLVIEW_EXTENSION, "version": "3.1.5"}))
    monkeypatch.setattr(jupyter_core.paths, "jupyter_path", lambda *parts: [str(tmp_path)])
    monkeypatch.setattr(nglview._frontend, "__frontend_version__", "4.0")   # nglview 4.0.1's mismatch
    monkeypatch.setattr(viz, "_mismatch_told", False)
    monkeypatch.setenv("MATLIB_VIEWER", "auto")
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert "frontend 4.0" in viz.nglview_mismatch() and "3.1.5" in viz.nglview_mismatch()
    first, second = viz.view(nacl), viz.view(nacl)
    assert hasattr(first, "get_zlim") and hasattr(second, "get_zlim")       # matplotlib 3D axes, not a widget
    notices = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(notices) == 1 and notices[0].startswith("3D view: static picture")
    import matplotlib.pyplot as plt
    plt.close("all")


def test_an_extension_this_kernel_cannot_see_keeps_nglview(tmp_path):
    # JupyterLab may run from another environment than the kernel: no verdict, no fallback
    assert viz.nglview_mismatch(search_path=[str(tmp_path)]) is None


def test_an_unreadable_extension_is_a_reason_not_a_crash(tmp_path):
    (tmp_path / viz.NGLVIEW_EXTENSION).mkdir()
    (tmp_path / viz.NGLVIEW_EXTENSION / "package.json").write_text("{not json")
    assert "could not be read" in viz.nglview_mismatch(search_path=[str(tmp_path)])


def _conda_pins(path: Path) -> dict[str, str]:
    pins = {}
    for entry in yaml.safe_load(path.read_text())["dependencies"]:
        pin = re.match(r"([\w.-]+)\s*(==|=)\s*([^\s=<>]+)", entry) if isinstance(entry, str) else None
        if pin:                                   # "name=4.0" (4.0.*) or "name==4.0" (exactly); ranges skipped
            name, operator, version = pin.groups()
            pins[name] = (operator, version)
    return pins


def test_every_environment_file_pins_the_same_jupyter_stack():
    constraints = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                       if "==" in line and not line.startswith("#"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["lab"]
    conda = _conda_pins(ROOT / "environment.yml")
    binder = _conda_pins(ROOT / "binder" / "environment.yml")

    nglview = constraints["nglview"]
    assert f"nglview=={nglview}" in requirements
    assert conda["nglview"] == binder["nglview"] == ("==", nglview)      # conda's "=4.0" would take 4.0.1
    ipywidgets_minor = ".".join(constraints["ipywidgets"].split(".")[:2])
    assert conda["ipywidgets"] == binder["ipywidgets"] == ("=", ipywidgets_minor)
    assert any(r.startswith("ipywidgets>=") and f"<{int(ipywidgets_minor.split('.')[0]) + 1}" in r
               for r in requirements)
    lab_major = constraints["jupyterlab"].split(".")[0]
    assert conda["jupyterlab"] == binder["jupyterlab"] == ("=", lab_major)
    assert f"jupyterlab>={lab_major},<{int(lab_major) + 1}" in requirements


def test_binder_checks_the_viewer_and_saves_widget_state():
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "nglview_mismatch" in post_build and "binder/overrides.json" in post_build
    assert "binder/overrides.json" in (ROOT / "Makefile").read_text()          # make jupyter installs it too
    overrides = json.loads((ROOT / "binder" / "overrides.json").read_text())
    assert overrides["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True

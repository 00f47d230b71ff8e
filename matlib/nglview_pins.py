"""Whether nglview's Python side and the JupyterLab extension beside it agree (``viz`` falls back to a
static picture when they do not; ``matlib.viz`` re-exports these)."""
from __future__ import annotations

from typing import Sequence


NGLVIEW_EXTENSION = "nglview-js-widgets"


def installed_nglview_extension(search_path: Sequence[str] | None = None) -> tuple[str, str] | None:
    """(version, package.json path) of the nglview lab extension JupyterLab would load, or None.

    JupyterLab takes the first copy along the Jupyter data path (user, environment, system).
    """
    import json
    from pathlib import Path

    if search_path is None:
        from jupyter_core.paths import jupyter_path
        search_path = jupyter_path("labextensions")
    for folder in search_path:
        package = Path(folder) / NGLVIEW_EXTENSION / "package.json"
        if package.is_file():
            return json.loads(package.read_text())["version"], str(package)
    return None


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-")[0].split(".") if part.isdigit())


def version_matches(requested: str, installed: str) -> bool:
    """The widget manager's (semver) rule: "4.0" accepts 4.0.x, "3.1.5" only 3.1.5, "^3.1" any 3.x
    from 3.1 on, "~3.1.2" any 3.1.x from 3.1.2 on."""
    want, have = _numbers(requested.lstrip("^~=v")), _numbers(installed)
    if not want or not have:
        return False
    if requested.startswith("^"):
        fixed = next((k + 1 for k, part in enumerate(want) if part != 0), len(want))   # ^0.3 pins 0.3
        return have[:fixed] == want[:fixed] and have >= want
    if requested.startswith("~"):
        fixed = min(2, len(want))
        return have[:fixed] == want[:fixed] and have >= want
    return have[:len(want)] == want


def nglview_mismatch(search_path: Sequence[str] | None = None) -> str | None:
    """Why nglview's 3D view would fail to render here, or None when it can render (or this kernel
    cannot tell: JupyterLab may run from another environment than the kernel).

    nglview's Python side asks the browser for a frontend version; the lab extension installed
    beside it must answer to it, else every view is a red "Failed to load model class" box.
    """
    try:
        from nglview._frontend import __frontend_version__ as requested

        found = installed_nglview_extension(search_path)
    except (ImportError, OSError, KeyError, ValueError) as err:     # an odd install: say so, do not crash
        return f"nglview's versions could not be read ({type(err).__name__}: {err})"
    if found is None:
        return None
    installed, where = found
    if not version_matches(requested, installed):
        return (f"nglview asks for frontend {requested} but the lab extension is {installed} ({where}); "
                f"install the pinned nglview (pip install -c constraints.txt -e .)")
    return None

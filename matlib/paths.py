"""Where things live: the project's data cache, its checkpoints and its outputs."""
from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path | None:
    """The checkout matlib was installed from (editable installs), or None for a wheel install."""
    root = _PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").exists() and (root / "notebooks").is_dir() else None


def data_dir() -> Path:
    """The download cache and home of committed checkpoints: `$MATLIB_CACHE`, else `<repo>/data`."""
    env = os.environ.get("MATLIB_CACHE")
    if env:
        return Path(env)
    root = project_root()
    return root / "data" if root else Path.home() / ".cache" / "matlib"


def checkpoints_dir() -> Path:
    return data_dir() / "checkpoints"


def outputs_dir(name: str | None = None) -> Path:
    """`<repo>/outputs[/name]` (or ./outputs outside a checkout)."""
    root = project_root()
    base = (root if root else Path.cwd()) / "outputs"
    return base / name if name else base


def _umask() -> int:
    try:                                      # Linux states it without changing it (thread-safe)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()      # read once: the fallback briefly changes the umask, unsafe beside writer threads


def ordinary_permissions(path: str | Path) -> None:
    """Give a file the mode any new file of this user gets (safetensors writes 0600, so a judge
    saved by one account could not be read by another, e.g. a shared course folder)."""
    os.chmod(path, 0o666 & ~_UMASK)

"""Progress bars that look right in JupyterLab and in a terminal or CI log."""
from __future__ import annotations

import os

from tqdm.auto import tqdm


def progress(iterable=None, **kwargs):
    """tqdm with sensible defaults; MATLIB_PROGRESS=0 silences every bar (e.g. in logs)."""
    if os.environ.get("MATLIB_PROGRESS", "1") == "0":
        kwargs["disable"] = True
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)

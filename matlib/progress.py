"""Progress bars that look right in JupyterLab, in a saved notebook, and in a terminal or CI log.

In a Jupyter kernel a bar is a line of text on stdout, redrawn with carriage returns, not an
ipywidget: a widget's model lives only as long as its kernel, so a notebook saved during or after
a run and reopened later would show "Error displaying widget: model not found" where each bar
was. Text also works inside an ipywidgets Output (the explorers), which drops in-place display
updates. The bar's last state stays in the notebook as the record of what the cell did.
"""
from __future__ import annotations

import os
import sys

from tqdm.std import tqdm

NOTEBOOK_COLUMNS = 100


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, papermill), False in a terminal or plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def progress(iterable=None, **kwargs):
    """tqdm with sensible defaults; MATLIB_PROGRESS=0 silences every bar (e.g. in logs)."""
    if os.environ.get("MATLIB_PROGRESS", "1") == "0":
        kwargs["disable"] = True
    kwargs.setdefault("mininterval", 0.5)
    if in_jupyter_kernel():
        kwargs.setdefault("file", sys.stdout)      # stderr would paint every bar as a warning
        kwargs.setdefault("ncols", NOTEBOOK_COLUMNS)
        kwargs.setdefault("leave", True)
    else:
        kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)

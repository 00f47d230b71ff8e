"""Progress bars: text a saved notebook keeps (never a widget that dies with its kernel)."""
import json

import nbformat
import papermill

from matlib import progress as progress_module


def test_outside_a_kernel_bars_are_plain_tqdm_and_can_be_silenced(monkeypatch):
    monkeypatch.setenv("MATLIB_PROGRESS", "1")
    bar = progress_module.progress(range(3), desc="demo")
    assert not progress_module.in_jupyter_kernel() and bar.leave is False and not bar.disable
    assert list(bar) == [0, 1, 2]
    monkeypatch.setenv("MATLIB_PROGRESS", "0")
    assert progress_module.progress(range(3)).disable


def test_in_a_kernel_a_bar_leaves_readable_text_and_no_widget(tmp_path, monkeypatch):
    monkeypatch.setenv("MATLIB_PROGRESS", "1")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from matlib.progress import progress\n"
        "for _ in progress(range(40), desc='demo', mininterval=0):\n    pass\n"
        "bar = progress(total=7, desc='manual')\nbar.update(7)\nbar.close()")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "bars.ipynb")
    papermill.execute_notebook(str(tmp_path / "bars.ipynb"), str(tmp_path / "ran.ipynb"), kernel_name="python3",
                               progress_bar=False)
    outputs = json.loads((tmp_path / "ran.ipynb").read_text())["cells"][0]["outputs"]
    assert outputs and all(o["output_type"] == "stream" and o["name"] == "stdout" for o in outputs)
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    text = "".join("".join(o["text"]) for o in outputs)
    final_lines = [chunk.strip() for chunk in text.replace("\n", "\r").split("\r") if chunk.strip()]
    assert final_lines[-1].startswith("manual: 100%") and "7/7" in final_lines[-1]
    assert any(line.startswith("demo: 100%") and "40/40" in line for line in final_lines)

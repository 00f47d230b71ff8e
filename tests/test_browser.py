"""What a student sees: JupyterLab in headless Chromium runs notebooks 00 and 07 at `smoke`.

Debian's `chromium` (the Makefile's test set-up installs it through apt) is driven by Playwright
through `executable_path`; WebGL runs on SwiftShader, so nglview draws real pixels. Screenshots go
to outputs/browser/ for a person to look at.
"""
from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "outputs" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
WIDGET_ERRORS = ("Failed to load model class", "Error displaying widget", "model not found", "is not registered")
RUN_TIMEOUT_S = 480
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed (make test installs it with apt-get when run as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode} before it answered")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium):
    """A JupyterLab on 127.0.0.1 with a token, serving smoke-profile copies of notebooks 00 and 07."""
    import papermill

    work = tmp_path_factory.mktemp("lab")
    for name in ("00_crystals_and_data", "07_scigen"):
        papermill.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(work / f"{name}.ipynb"),
                                   parameters={"profile": "smoke", "out_dir": str(work / "out" / name)},
                                   prepare_only=True, kernel_name="python3", progress_bar=False)
    settings = work / "app-settings"          # the course's JupyterLab settings, and no news pop-up
    settings.mkdir()
    overrides = json.loads((ROOT / "binder" / "overrides.json").read_text())
    overrides["@jupyterlab/apputils-extension:notification"] = {"fetchNews": "false", "checkForUpdates": False}
    (settings / "overrides.json").write_text(json.dumps(overrides))
    env = {**os.environ, "MATLIB_PROGRESS": "1", "JUPYTER_CONFIG_DIR": str(work / "jupyter-config"),
           "JUPYTERLAB_SETTINGS_DIR": str(work / "user-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces")}
    env.pop("MATLIB_VIEWER", None)            # the 3D views are what this test is for
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
               "--LabApp.expose_app_in_browser=True", f"--LabApp.app_settings_dir={settings}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(work / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/status?token={token}", server)
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "root": work}
    finally:
        stop_with_children(server)
        log.close()


def stop_with_children(server: subprocess.Popen) -> None:
    """Stop the server and every process it started (kernels may sit in process groups of their own)."""
    import psutil

    try:
        children = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    _, alive = psutil.wait_procs(children, timeout=10)
    for process in alive:
        process.kill()


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


NOTEBOOK_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  let code = 0, executed = 0; const errors = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    code++;
    if (cell.executionCount !== null) executed++;
    for (const out of cell.outputs.toJSON())
      if (out.output_type === 'error') errors.push(out.ename + ': ' + out.evalue);
  }
  const prompts = [...document.querySelectorAll('.jp-InputPrompt')].map(e => e.textContent);
  return {code, executed, errors, running: prompts.filter(t => t.includes('*')).length,
          kernel: panel.sessionContext.session?.kernel?.status ?? 'none'};
}"""


def open_notebook(page, lab, name: str) -> None:
    page.goto(f"{lab['url']}/lab/workspaces/{name}/tree/{name}.ipynb?reset&token={lab['token']}")
    page.wait_for_function("() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel"
                           "?.status === 'idle'", timeout=120_000)


def run_all(page) -> dict:
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        time.sleep(2)
        state = page.evaluate(NOTEBOOK_STATE)
        if state["errors"]:
            return state
        if state["executed"] == state["code"] and not state["running"] and state["kernel"] == "idle":
            return state
    raise TimeoutError(f"Run All did not finish in {RUN_TIMEOUT_S} s: {page.evaluate(NOTEBOOK_STATE)}")


def notebook_text(page) -> str:
    # JupyterLab 4 does not draw off-screen cells, so read text content, never innerText
    return page.evaluate("() => document.querySelector('.jp-Notebook').textContent")


def drawn_share(png: bytes) -> float:
    """Share of a screenshot's pixels that differ from its most common colour (the background)."""
    import matplotlib.image

    pixels = (matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3] * 255).astype(np.uint8)
    flat = pixels.reshape(-1, 3)
    colours, counts = np.unique(flat, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    return float(np.any(flat != background, axis=1).mean())


def dead_widget_outputs(notebook: dict) -> list[str]:
    """Widget outputs of a saved notebook that JupyterLab would draw as "model not found" on reopening:
    those whose model state the notebook does not carry."""
    saved = notebook.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return [out["data"][WIDGET_VIEW]["model_id"] for cell in notebook["cells"] for out in cell.get("outputs", [])
            if WIDGET_VIEW in out.get("data", {}) and out["data"][WIDGET_VIEW]["model_id"] not in saved]


def check_after_reopening(page, lab, name: str, progress_bars: bool = False) -> None:
    """Save, shut the kernel down, reload: nothing the run left behind may show as an error."""
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    saved = json.loads((lab["root"] / f"{name}.ipynb").read_text())
    assert not dead_widget_outputs(saved)
    bars = [o for c in saved["cells"] for o in c.get("outputs", []) if o.get("output_type") == "stream"
            and "it/s]" in "".join(o["text"])]
    if progress_bars:
        assert bars, "progress bars leave readable text in the saved notebook"
    page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    page.reload()
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_timeout(5_000)              # the widget manager restores saved state asynchronously
    text = notebook_text(page)
    page.screenshot(path=str(SCREENSHOTS / f"{name}_reopened.png"))
    assert not [e for e in WIDGET_ERRORS if e in text]


@pytest.fixture
def page(browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    yield page
    page.close()


def check_notebook_ran(page, lab, name: str) -> str:
    open_notebook(page, lab, name)
    state = run_all(page)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    assert not state["errors"], state["errors"]
    text = notebook_text(page)
    assert not [e for e in WIDGET_ERRORS if e in text], "a widget failed to load"
    assert not page.errors, page.errors
    canvases = page.locator(".jp-OutputArea-output canvas")
    assert canvases.count() >= 1, "no NGL canvas in a view cell"
    view = canvases.first
    view.scroll_into_view_if_needed()
    page.wait_for_timeout(1_000)
    shot = view.screenshot(path=str(SCREENSHOTS / f"{name}_view.png"))
    assert drawn_share(shot) > 0.005, "the NGL canvas is blank"
    return text


def test_notebook_00_renders_its_crystal_in_jupyterlab(page, lab):
    check_notebook_ran(page, lab, "00_crystals_and_data")
    check_after_reopening(page, lab, "00_crystals_and_data")      # its bars depend on the tensor cache


def test_notebook_07_explorer_answers_a_control_change(page, lab):
    check_notebook_ran(page, lab, "07_scigen")
    explorer = page.locator(".widget-interact").first
    explorer.scroll_into_view_if_needed()
    assert "passes_screen" not in explorer.text_content()          # interact_manual waits for the button
    explorer.locator("select").first.select_option("square")
    explorer.locator("button").first.click()
    page.wait_for_function("() => { const e = document.querySelector('.widget-interact');"
                           " return e.textContent.includes('passes_screen') && e.textContent.includes('square'); }",
                           timeout=300_000)
    page.wait_for_timeout(2_000)
    explorer.screenshot(path=str(SCREENSHOTS / "07_scigen_explorer.png"))
    assert explorer.locator("canvas").count() >= 1                  # its 3D view of the first crystal
    check_after_reopening(page, lab, "07_scigen", progress_bars=True)

"""The main job: execute every notebook in order with papermill and summarise their results.

    python -m matlib.course.runner --profile auto --out outputs      (what `make run` does)
    python -m matlib.course.runner --profile full --gpus 0 1         (two notebooks at a time, one per GPU)
    python -m matlib.course.runner --only 05 08 --out outputs        (a part; the summary covers every run in outputs/)

Each run appends a row to `<out>/runs.jsonl` (``matlib.course.runs``), so a main job split over
several calls (or machines sharing one results folder) still ends with one `summary.md`.
"""
from __future__ import annotations

import argparse
import functools
import itertools
import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..config import resolve_profile
from ..paths import project_root
from ..progress import in_jupyter_kernel
from ..results import RESULTS_NAME
from .runs import record, write_summary

# What a notebook reads from another one's run, when both are in the same job: the judges notebook 01
# writes (its `full` run replaces them), and notebook 02's CDVAE beside the results of 05 and 08.
NEEDS = {
    "02_cdvae": ("01_periodic_gnn",),
    "04_diffusion": ("01_periodic_gnn",),
    "05_con_cdvae": ("01_periodic_gnn", "02_cdvae"),
    "06_adapters_guidance": ("01_periodic_gnn",),
    "08_latent_swarm": ("01_periodic_gnn", "02_cdvae"),
    "10_podgen": ("01_periodic_gnn",),
}
LAST = "09_comparison"          # reads every other notebook's results


def notebooks(folder: Path | None = None) -> list[Path]:
    """The course's notebooks in run order: by number, the comparison (it reads every other one) last."""
    folder = folder or (project_root() or Path.cwd()) / "notebooks"
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"), key=lambda p: (p.stem == LAST, p.name))


@functools.cache
def _kernel_options() -> dict:
    """Kernels talk over Unix sockets in a private folder (made once per process): over TCP,
    ipykernel warns on every start that anyone on the machine could listen in. Windows has no IPC
    transport, so TCP there."""
    if os.name == "nt":
        return {}
    import atexit
    import shutil
    import tempfile

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    folder = tempfile.mkdtemp(prefix="matlib-kernels-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    numbers = itertools.count()

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self):
            return "ipc"

        @default("ip")
        def _ip_default(self):      # short: a Unix socket path has about 100 characters at most
            return os.path.join(folder, f"k{next(numbers)}")

    return {"kernel_manager_class": IPCKernelManager}


def execute(notebook: Path, out_root: Path, profile: str, parameters: dict | None = None,
            timeout: int | None = None, progress_bar: bool = False) -> Path:
    """Run one notebook; its executed copy and its results folder go under `out_root`.

    `progress_bar` shows cells done of all cells and the time so far (the main job's terminal).
    """
    import papermill

    os.environ.setdefault("MATLIB_VIEWER", "static")  # keep pictures in executed notebooks
    for name in ("MATLIB_DATA", "MATLIB_CACHE"):      # notebooks run in notebooks/: pin relative paths here
        if os.environ.get(name) and not Path(os.environ[name]).is_absolute():
            os.environ[name] = str(Path(os.environ[name]).resolve())
    out_dir = out_root / notebook.stem
    params = {"profile": profile, "out_dir": str(out_dir.resolve()), **(parameters or {})}
    papermill.execute_notebook(str(notebook), str(out_root / notebook.name), parameters=params,
                               kernel_name="python3", cwd=str(notebook.parent), progress_bar=progress_bar,
                               execution_timeout=timeout, **_kernel_options())
    return out_dir / RESULTS_NAME


def prerequisites(name: str, job: list[str]) -> list[str]:
    """The notebooks of this job that must finish before `name` starts."""
    if name == LAST:
        return [n for n in job if n != LAST]
    return [n for n in NEEDS.get(name, ()) if n in job]


def schedule(job: list[str], slots: list[str], start, poll_seconds: float = 5.0) -> dict[str, int]:
    """Run `job` on `slots` (one notebook per slot at a time), in order, each once its prerequisites finish.

    `start(name, slot)` launches a notebook and returns something with `.poll()` (None while running,
    else an exit code), like `subprocess.Popen`. Returns the exit code of every notebook; one whose
    prerequisite failed still runs, as the sequential job does (it falls back to committed files).
    """
    pending, running, codes = list(job), {}, {}
    free = list(slots)
    while pending or running:
        for name, (handle, slot) in list(running.items()):
            code = handle.poll()
            if code is not None:
                codes[name] = code
                free.append(slot)
                del running[name]
        for name in list(pending):
            if not free:
                break
            if all(p in codes for p in prerequisites(name, job)):
                slot = free.pop(0)
                running[name] = (start(name, slot), slot)
                pending.remove(name)
        if running:
            time.sleep(poll_seconds)
    return codes


class Stopped(Exception):
    """The job was told to stop (SIGTERM, as `timeout` or a batch system sends)."""


def _stop(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)    # one stop is enough: let the clean-up finish
    raise Stopped(f"signal {signum}")


def run_one(notebook: Path, out_root: Path, profile: str, parameters: dict | None = None) -> dict:
    """Execute one notebook and record the run in `<out_root>/runs.jsonl`; returns the recorded row."""
    print(f"[{profile}] {notebook.name} ...", flush=True)
    start = time.perf_counter()
    row = {"notebook": notebook.stem, "profile": profile, "status": "interrupted",   # e.g. Ctrl-C
           "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"), **({"parameters": parameters} if parameters else {})}
    try:
        # papermill's bar is a widget inside a kernel (notebook 09 re-runs others): text outside only
        execute(notebook, out_root, profile, parameters, progress_bar=not in_jupyter_kernel())
        row["status"] = "ok"
    except Stopped:
        row["status"] = "stopped"
        raise
    except Exception as err:  # keep going: later notebooks may not depend on this one
        row["status"] = f"failed: {type(err).__name__}"
        print(f"  failed: {err}", file=sys.stderr)
    finally:                  # a stopped run is recorded too, so the summary says what did not finish
        row["seconds"] = time.perf_counter() - start
        print(f"  {notebook.stem}: {row['status']} in {row['seconds'] / 60:.1f} min", flush=True)
        record(out_root, row)
    return row


def run_parallel(chosen: list[Path], out_root: Path, profile: str, gpus: list[str], params: list[str]) -> bool:
    """One child process per notebook, each pinned to one GPU; logs in `<out>/logs/`."""
    (out_root / "logs").mkdir(exist_ok=True)
    children: list[tuple[subprocess.Popen, object]] = []

    def start(name: str, gpu: str):
        log = open(out_root / "logs" / f"{name}.log", "w")
        print(f"[{profile}] {name} on GPU {gpu}", flush=True)
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
        command = [sys.executable, "-m", "matlib.course.runner", "--profile", profile, "--out", str(out_root),
                   "--only", name, "--no-summary", *(["--param", *params] if params else [])]
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        children.append((child, log))
        return child

    try:
        codes = schedule([nb.stem for nb in chosen], gpus, start)
    except Stopped:          # pass the stop on: each child records its notebook as stopped
        for child, _ in children:
            if child.poll() is None:
                child.terminate()
        for child, _ in children:
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
        raise
    finally:
        for _, log in children:
            log.close()
    for name, code in codes.items():
        print(f"  {name}: exit {code}", flush=True)
    return all(code == 0 for code in codes.values())


def parse_parameters(items: list[str]) -> dict:
    """`["seed=1", "rerun_missing=False", "dataset=mp_20"]` -> typed values (strings stay strings)."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--param wants NAME=VALUE, not {item!r}")
        try:
            out[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[name] = value
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="auto", help="smoke, teach, full, or auto (full with a GPU, else teach)")
    ap.add_argument("--out", default="outputs", type=Path)
    ap.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 00 02")
    ap.add_argument("--gpus", nargs="*", help="GPU ids: run notebooks side by side, one per GPU, "
                    "each once the notebooks it reads from have finished")
    ap.add_argument("--param", nargs="*", default=[], metavar="NAME=VALUE",
                    help="a parameter for every notebook run, e.g. rerun_missing=False (values read as JSON/Python)")
    ap.add_argument("--no-summary", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    profile = resolve_profile(args.profile)
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = [nb for nb in notebooks() if not args.only or any(nb.name.startswith(p) for p in args.only)]
    parameters = parse_parameters(args.param)
    signal.signal(signal.SIGTERM, _stop)
    try:
        if args.gpus:
            ok = run_parallel(chosen, args.out, profile, args.gpus, args.param)
        else:
            ok = all([run_one(nb, args.out, profile, parameters)["status"] == "ok" for nb in chosen])
    except Stopped:
        ok = False
    if not args.no_summary:
        print(f"wrote {write_summary(args.out)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

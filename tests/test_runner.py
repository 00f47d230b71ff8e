"""The main job's runner: order, side-by-side runs over GPUs, the runs log, stops."""
import json
import os
import signal
import time as clock

import pytest

from matlib.course import runner, runs


def test_the_main_job_summary_carries_notebook_09s_tables(tmp_path):
    (tmp_path / "comparison.md").write_text("# Comparison of the methods\n\n| a |\n")
    assert runner.main(["--profile", "smoke", "--out", str(tmp_path), "--only", "99"]) == 0   # no notebook matches
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("# Run summary") and "# Comparison of the methods" in summary



class _FakeRun:
    """A notebook run that finishes after `polls` polls, recording what ran alongside it."""

    def __init__(self, name, slot, log, polls=2, code=0):
        self.name, self.slot, self.log, self.left, self.code = name, slot, log, polls, code
        log.append(("start", name, slot))

    def poll(self):
        self.left -= 1
        if self.left > 0:
            return None
        self.log.append(("end", self.name, self.slot))
        return self.code


def _replay(log):
    """Per step: which notebooks were running on which slot."""
    running, seen = {}, []
    for event, name, slot in log:
        if event == "start":
            assert slot not in running.values(), f"{name} started on busy slot {slot}"
            running[name] = slot
        else:
            del running[name]
        seen.append(dict(running))
    return seen


def test_schedule_waits_for_prerequisites_and_uses_each_gpu_once():
    job = ["00_crystals_and_data", "01_periodic_gnn", "02_cdvae", "03_matgan", "05_con_cdvae",
           "08_latent_swarm", "09_comparison", "10_podgen"]
    log = []
    codes = runner.schedule(job, ["0", "1"], lambda n, s: _FakeRun(n, s, log, polls=1 + len(n) % 3),
                            poll_seconds=0)
    assert codes == {n: 0 for n in job}
    started = {name: i for i, (event, name, _) in enumerate(log) if event == "start"}
    finished = {name: i for i, (event, name, _) in enumerate(log) if event == "end"}
    for later, earlier in [("02_cdvae", "01_periodic_gnn"), ("05_con_cdvae", "02_cdvae"),
                           ("08_latent_swarm", "02_cdvae"), ("08_latent_swarm", "01_periodic_gnn")]:
        assert started[later] > finished[earlier]
    order = sorted(started, key=started.get)
    ended = sorted(finished, key=finished.get)
    assert order[-1] == "09_comparison" and set(ended[:-1]) == set(job) - {"09_comparison"}
    assert max(len(state) for state in _replay(log)) == 2          # both GPUs were busy at once


def test_schedule_runs_dependents_of_a_failed_notebook():
    log = []
    codes = runner.schedule(["02_cdvae", "08_latent_swarm"], ["0"],
                            lambda n, s: _FakeRun(n, s, log, code=1 if n == "02_cdvae" else 0), poll_seconds=0)
    assert codes == {"02_cdvae": 1, "08_latent_swarm": 0}


def test_summary_covers_every_recorded_run_in_the_folder(tmp_path):
    (tmp_path / "02_cdvae").mkdir()
    (tmp_path / "02_cdvae" / "results.json").write_text(json.dumps(
        {"hardware": "NVIDIA H200", "train_split": "val", "eval_split": "test", "metrics": {"validity": 0.99}}))
    runs.record(tmp_path, {"notebook": "02_cdvae", "profile": "full", "status": "failed: X", "seconds": 60})
    runs.record(tmp_path, {"notebook": "02_cdvae", "profile": "full", "status": "ok", "seconds": 480})
    runs.record(tmp_path, {"notebook": "08_latent_swarm", "profile": "full", "status": "failed: Y", "seconds": 6})
    text = runs.write_summary(tmp_path).read_text()
    assert "| 02_cdvae | full | ok | 8.0 | NVIDIA H200 | val / test |" in text
    assert "| 08_latent_swarm | full | failed: Y | 0.1 | - | - / - |" in text
    assert "| validity | 0.99 |" in text and text.count("| 02_cdvae |") == 1


def test_summary_opens_with_the_comparison_and_keeps_only_key_metrics(tmp_path):
    metrics = {"generation": {"mp_20": {"struct_valid": 0.99, "comp_valid": 0.8, "amcd_r": 3.5}},
               "steps_sweep": [{"steps_per_level": 1}], "model": {"train_steps": 100, "parameters": 12}}
    (tmp_path / "02_cdvae").mkdir()
    (tmp_path / "02_cdvae" / "results.json").write_text(json.dumps({"metrics": metrics}))
    runs.record(tmp_path, {"notebook": "02_cdvae", "profile": "teach", "status": "ok", "seconds": 60})
    (tmp_path / "comparison.md").write_text("# Comparison of the methods\n\n## Table 1\n\n| a |\n")
    text = runs.write_summary(tmp_path).read_text()
    lines = text.splitlines()
    assert lines[0] == "# Run summary" and lines.index("## Comparison of the methods") < lines.index("## Runs")
    assert "### Table 1" in lines and lines.index("## Runs") < lines.index("### 02_cdvae")
    assert "| generation.mp_20.struct_valid | 0.99 |" in text and "| model.train_steps | 100 |" in text
    assert "amcd_r" not in text and "parameters" not in text and "steps_sweep" not in text


def test_runner_parameters_are_typed_like_papermills():
    assert runner.parse_parameters(["rerun_missing=False", "seed=1", "dataset=mp_20", "n=2.5"]) == \
        {"rerun_missing": False, "seed": 1, "dataset": "mp_20", "n": 2.5}
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        runner.parse_parameters(["rerun_missing"])


def test_a_stopped_run_is_recorded_and_ends_the_job(tmp_path, monkeypatch):

    def execute_until_told_to_stop(notebook, out_root, profile, parameters=None, **options):
        os.kill(os.getpid(), signal.SIGTERM)      # what `timeout` sends
        clock.sleep(5)
        raise AssertionError("the signal should have stopped the run")

    monkeypatch.setattr(runner, "execute", execute_until_told_to_stop)
    previous = signal.signal(signal.SIGTERM, runner._stop)
    try:
        with pytest.raises(runner.Stopped):
            runner.run_one(tmp_path / "02_cdvae.ipynb", tmp_path, "full")
    finally:
        signal.signal(signal.SIGTERM, previous)
    [row] = runs.recorded_runs(tmp_path)
    assert row["notebook"] == "02_cdvae" and row["status"] == "stopped" and row["seconds"] < 5


def test_an_interrupted_run_is_recorded_before_the_interrupt_goes_on(tmp_path, monkeypatch):
    def execute_then_ctrl_c(notebook, out_root, profile, parameters=None, **options):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "execute", execute_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        runner.run_one(tmp_path / "04_diffusion.ipynb", tmp_path, "full")
    assert [r["status"] for r in runs.recorded_runs(tmp_path)] == ["interrupted"]


def test_a_cut_short_record_is_skipped_with_a_warning(tmp_path):
    runs.record(tmp_path, {"notebook": "02_cdvae", "profile": "full", "status": "ok", "seconds": 1})
    with open(tmp_path / runs.RUNS_LOG, "a") as fh:
        fh.write('{"notebook": "04_diff')
    with pytest.warns(UserWarning, match="unreadable run record"):
        rows = runs.recorded_runs(tmp_path)
    assert [r["notebook"] for r in rows] == ["02_cdvae"]


class _FakeChild:
    """A notebook process that runs until it is told to terminate; the first poll sends the job SIGTERM."""
    polls = 0

    def __init__(self, command, **kwargs):
        self.command, self.terminated = command, False
        _FakeChild.started.append(self)

    def poll(self):
        _FakeChild.polls += 1
        if _FakeChild.polls == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            clock.sleep(5)
        return -15 if self.terminated else None

    def terminate(self):
        self.terminated = True

    def wait(self, timeout=None):
        return -15


def test_a_stop_during_side_by_side_runs_terminates_every_child(tmp_path, monkeypatch):
    _FakeChild.started, _FakeChild.polls = [], 0
    monkeypatch.setattr(runner.subprocess, "Popen", _FakeChild)
    previous = signal.signal(signal.SIGTERM, runner._stop)
    try:
        with pytest.raises(runner.Stopped):
            runner.run_parallel([tmp_path / "02_cdvae.ipynb", tmp_path / "04_diffusion.ipynb"], tmp_path, "full",
                                ["0", "1"], ["seed=1"])
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN      # a second signal cannot cut the clean-up
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(_FakeChild.started) == 2 and all(child.terminated for child in _FakeChild.started)
    assert _FakeChild.started[0].command[-2:] == ["--param", "seed=1"]

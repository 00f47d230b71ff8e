"""The README's main-job block is generated from docs/results/full and must match it."""
from pathlib import Path

import pytest

from matlib import comparison, readme

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / readme.RESULTS


def test_readme_matches_the_committed_main_job_results():
    assert readme.main(["--readme", str(ROOT / "README.md"), "--results", str(RESULTS), "--check"]) == 0


def test_render_replaces_only_the_generated_block():
    text = f"intro\n{readme.BEGIN}\nstale numbers\n{readme.END}\noutro\n"
    out = readme.render(text, RESULTS)
    assert out.startswith("intro\n" + readme.BEGIN) and out.endswith(readme.END + "\noutro\n")
    assert "stale numbers" not in out and "#### Table 1 (structure generators)" in out
    assert readme.render(out, RESULTS) == out
    with pytest.raises(ValueError, match="no generated block"):
        readme.render("no markers here", RESULTS)


def test_check_fails_when_a_number_is_edited_by_hand(tmp_path):
    text = (ROOT / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| CDVAE (ours) | perov_5 |"))
    edited = text.replace(row, row.replace("| CDVAE (ours) | perov_5 |", "| CDVAE (ours) | perov_5 | 1 |", 1))
    (tmp_path / "README.md").write_text(edited)
    assert readme.main(["--readme", str(tmp_path / "README.md"), "--results", str(RESULTS), "--check"]) == 1
    assert readme.main(["--readme", str(tmp_path / "README.md"), "--results", str(RESULTS)]) == 0
    assert (tmp_path / "README.md").read_text() == (ROOT / "README.md").read_text()


def test_every_notebook_has_a_row_run_or_not(tmp_path):
    table = readme.run_table(tmp_path)
    assert table.count("not run in this job yet") == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))


def test_the_committed_job_states_windows_judges_and_every_generator_that_ran():
    found = comparison.collect(RESULTS)
    table3 = comparison.targeted_table(found)
    assert set(table3.notebook) == {"05_con_cdvae", "06_adapters_guidance", "08_latent_swarm"}
    assert (table3.window_range != "–").all() and table3.train_split.eq("val").all()
    two = table3[table3.task == "formation energy -2 eV/atom & band gap 3 eV"].window_range.iloc[0]
    assert two == "[-2.25, -1.75] & [2.5, 3.5]"
    assert "judge mp_20/band_gap" in comparison.judges_used(table3)
    lattices = comparison.constrained_table(found)
    assert {"kagome", "lieb"} <= set(lattices.lattice) and lattices["passes all (est.)"].between(0, 1).all()


def test_minutes_come_from_the_run_records(tmp_path):
    import json

    from matlib import runner

    runner.record(tmp_path / "teach" if (tmp_path / "teach").mkdir() is None else None,
                  {"notebook": "03_matgan", "profile": "teach", "status": "ok", "seconds": 120})
    timings = tmp_path / "make_test.json"
    timings.write_text(json.dumps({"pytest_seconds": 900, "tests": 400, "cpus": 2, "finished": "2026-12-06T12:00:00Z",
                                   "notebook_tests": {"test_notebook_smoke[03_matgan]": {"seconds": 66}}}))
    table = readme.minutes_table(RESULTS, tmp_path / "teach", timings)
    row = next(line for line in table.splitlines() if line.startswith("| 03_matgan |"))
    full = next(r for r in runner.recorded_runs(RESULTS) if r["notebook"] == "03_matgan")
    assert row.startswith(f"| 03_matgan | 1.1 | 2.0 | {full['seconds'] / 60:.1f} (")
    assert "- `make test`: 15.0 min of tests (400 tests, 2 CPUs, 2026-12-06)" in table
    assert "| 04_diffusion | – | – |" in table                   # not measured: a dash, never a guess

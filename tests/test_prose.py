"""Lesson prose states no measured figures: a notebook shows its numbers through its own outputs, and
the README and docs/RESULTS.md show them through generated blocks (tests/test_readme.py)."""
import json
import re
from pathlib import Path

import pytest

from matlib.course import readme

ROOT = Path(__file__).resolve().parents[1]
# code, math and HTML comments may hold settings and definitions; prose may not hold measurements
_NOT_PROSE = re.compile(r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$|<!--.*?-->", re.S)
_MEASURED = [
    re.compile(r"\d+\.\d+\s*%"),                                   # a percentage with decimals
    re.compile(r"\d+\.\d+\s*(?:nats?|steps/s|crystals/s|times)\b"),   # a measured rate, loss or ratio
    re.compile(r"\d+(?:\.\d+)?\s*(?:min|minutes|s)\s+on\s+an?\s+H[12]00"),  # a run's minutes on a named GPU
    # a metric named, then a decimal value soon after in the same sentence (not a threshold: ≥ 0.5 Å)
    re.compile(r"(?i:\b(?:MAE|RMSE|RMSD|COV(?:-[RP])?|validity|success(?: rate)?|recovery|novelty|uniqueness|"
               r"match rate|W\([^)]*\))\b)[^.\n≥≤<>]{0,25}?(?<![\w.])\d+\.\d+"),
]


def measured_figures(text: str) -> list[str]:
    prose = _NOT_PROSE.sub(" ", text)
    return [m.group(0) for pattern in _MEASURED for m in pattern.finditer(prose)]


def readme_prose() -> str:
    text = (ROOT / "README.md").read_text()
    for begin, end in ((readme.NOTEBOOKS_BEGIN, readme.NOTEBOOKS_END), (readme.HEADLINE_BEGIN, readme.HEADLINE_END)):
        text = text[:text.index(begin)] + text[text.index(end) + len(end):]
    return text


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
def test_notebook_markdown_states_no_measured_figure(notebook):
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    found = {i: measured_figures("".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "markdown"}
    assert not {i: f for i, f in found.items() if f}, "measured figures in lesson prose (cell: figures)"


def test_readme_prose_states_no_measured_figure():
    assert measured_figures(readme_prose()) == []


def test_the_detector_catches_measurements_and_spares_settings():
    assert measured_figures("composition validity 80.7 % on MP-20") == ["80.7 %", "validity 80.7"]
    assert measured_figures("a test MAE of 0.041 eV/atom") == ["MAE of 0.041"]
    assert measured_figures("COV-P ≈ 0.9 in the run") == ["COV-P ≈ 0.9"]
    assert measured_figures("structure validity (all distances ≥ 0.5 Å)") == []
    assert measured_figures("a window of ±0.25 eV/atom, 20 % condition dropout") == []
    assert measured_figures("the metric `valid 99.5 %` in code") == []
    assert measured_figures("a gap of 0.26 nats; 24 against 29 steps/s") == ["0.26 nats"]
    assert measured_figures("MP-20: 8.9 minutes on an H200") == ["8.9 minutes on an H200"]
    assert measured_figures("`smoke`: < 2 min on a CPU") == []

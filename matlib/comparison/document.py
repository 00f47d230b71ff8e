"""The comparison as one Markdown document (``report``) and any table as GitHub Markdown (``markdown``)."""
from __future__ import annotations

import math

import pandas as pd

from .. import published
from .review_table import NOTE as REVIEW_TABLE_NOTE, review_table
from .tables import CONSTRAINED_PERCENT, TABLE2_PERCENT, composition_table, constrained_table, structure_table
from .targeted import RATE_ERRORS, RATES, SHOWN_TABLE3, judges_used, shared_rows, targeted_table


SUN_NOTE = ("`sun_0.1`: S.U.N. by the CHGNet oracle (`matlib.oracle`): the share of all samples that are valid "
            "and, after a CHGNet relaxation, within 0.1 eV/atom of a hull of CHGNet energies of MP-20 `val` + `test` "
            "(or Perov-5's), unique and novel; estimated on the relaxed subset the row's notebook states. "
            "Published S.U.N. rates were judged otherwise (below): by DFT against the Alex-MP-ICSD hull, or by "
            "corrected CHGNet energies on a hull the source does not state, at 0.08 eV/atom and as a share of the "
            "novel, unique subset; none is comparable with ours without those differences.")


def report(found: dict[str, dict], level: int = 1, extra: dict[str, str] | None = None,
           every_targeted_row: bool = True, train_split: str = "val", eval_split: str = "test") -> str:
    """The three tables as Markdown (``extra``: more titled sections after Table 3's shared targets)."""
    h = "#" * level
    table1, table2, table3 = structure_table(found), composition_table(found), targeted_table(found)
    constrained = constrained_table(found)
    sections = [f"{h} Comparison of the methods", "",
                f"Our rows: trained on `{train_split}`, evaluated on `{eval_split}`, judged by notebook 01's GNNs, "
                f"each with its profile and hardware. Published rows (`train`): the papers' own training sets and "
                f"judges.\n",
                f"{h}# Table 1 (structure generators)", "",
                markdown(table1.drop(columns=["notebook"]), percent=("struct_valid", "comp_valid", "valid", "cov_r",
                                                                     "cov_p", "sun_0.1"),
                         errors={c: "n_generated" for c in ("struct_valid", "comp_valid", "valid")}),
                SUN_NOTE, "", markdown(published.sun_table(), percent=("sun",)),
                f"{h}# Table 2 (MatGAN)", "",
                markdown(table2, percent=TABLE2_PERCENT) if len(table2) else "(notebook 03 has not run)\n",
                f"{h}# Structure constraints (SCIGEN on the joint diffusion model)", "",
                markdown(constrained, percent=CONSTRAINED_PERCENT,
                         errors={"valid (CDVAE)": "samples", "passes screening (1-3)": "samples"}) if len(constrained)
                else "(notebook 07 has not run)\n",
                f"{h}# Table 3 (targets shared by two or more methods)", "",
                markdown(shared_rows(table3), percent=RATES, errors=RATE_ERRORS)]
    if len(table3):
        sections += ["Judges (success = valid and judged inside `window_range`):", "", judges_used(table3),
                     f"{h}# Table 3 (the review's layout: one column per property)", "",
                     markdown(review_table(table3)), REVIEW_TABLE_NOTE, ""]
    for title, body in (extra or {}).items():
        sections += [f"{h}# {title}", "", body]
    if every_targeted_row:
        sections += [f"{h}# Table 3 (every targeted row)", "",
                     markdown(table3[SHOWN_TABLE3], percent=RATES, errors=RATE_ERRORS)]
    return "\n".join(sections)


def markdown(frame: pd.DataFrame, percent: tuple[str, ...] = (), digits: int = 3,
             errors: dict[str, str] | None = None) -> str:
    """A GitHub table; ``percent`` columns are printed as percentages, and those named in ``errors``
    (``{rate column: sample-count column}``) as ``rate ± binomial standard error`` where the count is known."""
    from ..evaluation.success import standard_error

    if frame.empty:
        return "(no rows)\n"
    # the papers' rows carry their numbers as printed ({column: text}); ours are formatted here
    printed = frame["printed"] if "printed" in frame else pd.Series([None] * len(frame), index=frame.index)
    frame = frame.drop(columns=["printed"], errors="ignore")
    shown = frame.copy()
    errors = {c: n for c, n in (errors or {}).items() if c in shown.columns and n in frame.columns}
    for column in shown.columns:
        if column in errors:
            counts = pd.to_numeric(frame[errors[column]], errors="coerce")
            shown[column] = ["–" if pd.isna(v) else f"{100 * float(v):.1f}" if pd.isna(n) or n <= 0
                             else f"{100 * float(v):.1f} ± {100 * float(standard_error(float(v), float(n))):.1f}"
                             for v, n in zip(frame[column], counts)]
        elif column in percent:
            shown[column] = [("–" if pd.isna(v) else f"{100 * float(v):.1f}") for v in shown[column]]
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = [_number(v, digits) for v in shown[column]]
    for column in shown.columns:
        shown[column] = [p[column] if isinstance(p, dict) and column in p else v for v, p in zip(shown[column], printed)]
    header = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "|" + "---|" * len(shown.columns)
    body = ["| " + " | ".join("–" if _missing(v) else str(v).replace("|", "\\|") for v in row) + " |"
            for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _number(v: float, digits: int) -> str:
    if pd.isna(v):
        return "–"
    if float(v).is_integer() or abs(v) >= 10 ** digits:     # counts and large costs read better whole
        return f"{v:.0f}"
    return f"{v:.{digits}g}"

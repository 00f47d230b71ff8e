"""Tables 1 and 2 and the structure-constraint table, from the notebooks' results files, with the
published rows; ``collect`` reads the results."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import published
from ..registry import get_spec
from ..results import RESULTS_NAME, read_results

STRUCTURE_GENERATORS = {"02_cdvae": "CDVAE (ours)", "04_diffusion": "joint diffusion (ours)",
                        "10_podgen": "autoregressive Wyckoff (ours)"}
TARGETED = ("05_con_cdvae", "06_adapters_guidance", "08_latent_swarm", "10_podgen")
GENERATORS = ("02_cdvae", "03_matgan", "04_diffusion", "05_con_cdvae", "06_adapters_guidance", "07_scigen",
              "08_latent_swarm", "10_podgen")
TABLE1_COLUMNS = ["struct_valid", "comp_valid", "valid", "cov_r", "cov_p", "wdist_density", "wdist_prop",
                  "wdist_num_elems", "sun_0.1"]     # S.U.N.: CHGNet oracle, E_hull <= 0.1 eV/atom (matlib.oracle)
TABLE2_HEADERS = {"training_compositions": "training compositions", "held_out_compositions": "held-out compositions",
                  "generated_samples": "generated", "distinct_generated": "distinct",
                  "recovery_training": "recovery of training", "recovery_held_out": "recovery of held-out",
                  "new_compositions": "new distinct (in neither set)",
                  "new_samples": "new samples (generated − recovered, the paper's count)", "novelty": "novelty",
                  "uniqueness": "uniqueness", "chemically_valid": "chemically valid (SMACT)",
                  "charge_neutral": "charge neutral"}
TABLE2_FRACTIONS = ("recovery_training", "recovery_held_out", "novelty", "uniqueness", "chemically_valid",
                    "charge_neutral")   # the shares among MatGAN's results, shown as percentages
TABLE2_PERCENT = tuple(TABLE2_HEADERS[c] for c in TABLE2_FRACTIONS)


def collect(root: str | Path, notebooks=GENERATORS) -> dict[str, dict]:
    """``{notebook: results}`` for every notebook whose results file exists under ``root``."""
    root = Path(root)
    return {stem: read_results(root / stem / RESULTS_NAME) for stem in notebooks
            if (root / stem / RESULTS_NAME).exists()}


def _conditions(res: dict) -> dict:
    return {"profile": res.get("profile"), "train_split": res.get("train_split"), "hardware": res.get("hardware")}


def model_note(metrics: dict) -> str:
    """Which model a row measured: trained in the run, or a committed checkpoint loaded by it."""
    model = metrics.get("model") or {}
    if not model:
        return "not recorded"
    size = f"{model['parameters'] / 1e6:.2f} M parameters" if model.get("parameters") else "size not recorded"
    seconds = f", {model['train_seconds']:.0f} s of training" if model.get("train_seconds") else ""
    origin = "committed checkpoint" if model.get("loaded_checkpoint") else "trained in the run"
    return f"{origin}, {size}{seconds}"


def _property_label(dataset: str, distance: float) -> str | None:
    """The property a Table 1 ``wdist_prop`` measures: the dataset's own (CDVAE's E column), if measured."""
    return None if pd.isna(distance) else get_spec(dataset).default_property


def _with_property_distance(metrics: dict, dataset: str) -> dict:
    """``wdist_prop`` and ``property``: the suite's distance for the dataset's own property."""
    value = metrics.get(f"wdist_prop:{get_spec(dataset).default_property}", np.nan)
    return {**metrics, "wdist_prop": value, "property": _property_label(dataset, value)}


def structure_table(found: dict[str, dict], with_published: bool = True) -> pd.DataFrame:
    """One row per (structure generator, dataset), fractions; published rows after ours."""
    rows = []
    for stem, method in STRUCTURE_GENERATORS.items():
        if stem not in found:
            continue
        for dataset, metrics in found[stem]["metrics"].get("generation", {}).items():
            metrics = _with_property_distance(metrics, dataset)
            own = found[stem]["metrics"].get("dataset") == dataset      # the dataset its sampling.n counts
            rows.append({"method": method, "dataset": dataset, "notebook": stem, "property": metrics["property"],
                         **{c: metrics.get(c, np.nan) for c in TABLE1_COLUMNS},
                         "n_generated": found[stem]["metrics"].get("sampling", {}).get("n") if own else None,
                         "n_reference": found[stem]["metrics"].get("evaluation", {}).get("n_reference") if own else None,
                         "model": model_note(found[stem]["metrics"]), **_conditions(found[stem])})
    if with_published:
        datasets = {r["dataset"] for r in rows}
        for row in published.table1().to_dict("records"):
            if row["dataset"] in datasets:
                rows.append({"method": row["method"], "dataset": row["dataset"], "notebook": row["source"],
                             "printed": row["printed"], "property": _property_label(row["dataset"], row["wdist_prop"]),
                             **{c: row.get(c, np.nan) for c in TABLE1_COLUMNS},
                             "n_generated": published.TABLE1_PROTOCOL["n_generated"],
                             "n_reference": get_spec(row["dataset"]).splits["test"].rows,
                             "model": "the paper's", "train_split": "train"})
    table = pd.DataFrame(rows, columns=["method", "dataset", "notebook", *TABLE1_COLUMNS, "n_generated", "n_reference",
                                        "property", "model", "profile", "train_split", "hardware", "printed"])
    table[["n_generated", "n_reference"]] = table[["n_generated", "n_reference"]].astype("Int64")  # NA: not stated
    table.insert(table.columns.get_loc("property"), "protocol",
                 [protocol(r.dataset, r.n_generated, r.n_reference) for r in table.itertuples()])
    return table


def protocol(dataset: str, n_generated, n_reference) -> str:
    """Whether a Table 1 row follows CDVAE's protocol (10,000 crystals against the whole test split);
    fewer of either lowers COV (fewer chances to cover, fewer references to be covered by)."""
    whole = get_spec(dataset).splits["test"].rows
    if pd.isna(n_generated) or pd.isna(n_reference):
        return "not stated"
    wanted = published.TABLE1_PROTOCOL["n_generated"]
    if n_generated >= wanted and n_reference >= whole:
        return "CDVAE's"
    reference = f"all {whole:,}" if n_reference >= whole else f"{int(n_reference):,} of {whole:,}"
    return (f"smaller: {int(n_generated):,} generated (not {wanted:,}) against {reference} test crystals, "
            f"the full profile's time budget")


def composition_table(found: dict[str, dict], with_published: bool = True) -> pd.DataFrame:
    """Table 2: MatGAN's recovery, novelty and validity, ours then the paper's (empty when notebook 03 has not run)."""
    if "03_matgan" not in found:
        return pd.DataFrame()
    res = found["03_matgan"]
    ours = res["metrics"]["table2"]
    rows = [{"method": "MatGAN (ours)", "dataset": res["metrics"].get("dataset", "–"), **ours,
             "new_samples": published.new_samples(ours), **_conditions(res)}]
    if with_published:
        rows += [{**row, "train_split": "train", "printed": {TABLE2_HEADERS.get(k, k): v for k, v in row["printed"].items()}}
                 for row in published.table2().drop(columns="source").to_dict("records")]
    frame = pd.DataFrame(rows, columns=["method", "dataset", *TABLE2_HEADERS, "profile", "train_split", "hardware",
                                        "printed"])
    return frame.rename(columns=TABLE2_HEADERS)


CONSTRAINED_PERCENT = ("motif kept after sampling", "valid (CDVAE)", "passes screening (1-3)", "unique (of screened)",
                       "novel (of screened)", "relaxes (of relaxed)", "motif kept after relaxation (of relaxed)",
                       "passes all (est.)")


def constrained_table(found: dict[str, dict]) -> pd.DataFrame:
    """SCIGEN's funnel per lattice (notebook 07), with the sampling speed; empty when it has not run."""
    if "07_scigen" not in found:
        return pd.DataFrame()
    res = found["07_scigen"]
    speed = res["metrics"].get("sampling", {})
    rows = [{"lattice": lattice, **values,
             "crystals_per_second": speed.get(lattice, {}).get("crystals_per_second", np.nan), **_conditions(res)}
            for lattice, values in res["metrics"]["retention"].items()]
    return pd.DataFrame(rows)

"""The results document's oracle section, from ``docs/results/runs/oracle_validation.json``
(written by ``python -m matlib.oracle.validation``)."""
from __future__ import annotations

import json
from pathlib import Path

FILE = "oracle_validation.json"
COMMAND = "python -m matlib.oracle.validation --out docs/results/runs/oracle_validation.json"


def _f(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _hull_rows(hulls: dict) -> list[str]:
    lines = ["| elemental references | test crystals scored | MAE (eV/atom) | median abs. error | mean signed error "
             "| Pearson r | Spearman r | proxy E_hull ≤ 0.1 | proxy E_hull ≤ 0 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for kind, h in hulls.items():
        lines.append(f"| {kind} | {h['n']:,} of {h['n'] + h.get('n_missing', 0):,} | {_f(h.get('mae'))} | "
                     f"{_f(h.get('median_abs_error'))} | {_f(h.get('mean_signed_error'))} | {_f(h.get('pearson_r'), 2)} | "
                     f"{_f(h.get('spearman_r'), 2)} | {_pct(h.get('proxy_stable_at_0.1'))} | "
                     f"{_pct(h.get('proxy_stable_at_0'))} |")
    return lines


BENCHMARKS = ("bench_oracle_cpu.json", "bench_oracle_cuda.json")


def _throughput_rows(runs: Path) -> list[str]:
    """One row per benchmark file and graph-building variant: ``benchmarks/bench_oracle.py``'s JSON."""
    lines, notes = [], []
    for name in BENCHMARKS:
        path = runs / name
        if not path.exists():
            continue
        res = json.loads(path.read_text())
        machine = res["machine"]
        where = machine.get("gpu") or f"CPU, {machine['affinity']} cores"
        network = res.get("network_efs")
        if network:
            notes.append(f"{where}, the network alone (energies, forces and stresses of the same {res['n']:,} "
                         f"crystals, batches of {res['batch_size']}): CHGNet's `predict_graph` "
                         f"{network['chgnet_predict_graph']['structures_per_s']:,} crystals/s, `matlib.oracle.fast` "
                         f"{network['loop_free_batches']['structures_per_s']:,} crystals/s ({network['speedup']:.2f}x).")
        transfer = res.get("graph_transfer")
        if transfer:         # what a relaxation step's parent process pays per crystal to receive its graph
            notes.append(f"{where}, one crystal graph received from a worker process (unpickled): CHGNet's "
                         f"`CrystalGraph` {transfer['crystal_graph']['unpickle_ms']} ms, `GraphArrays` "
                         f"{transfer['graph_arrays']['unpickle_ms']} ms ({transfer['speedup']:.0f}x).")
        send = res.get("crystal_send")
        if send:
            notes.append(f"{where}, one crystal sent to a worker (made and pickled): a pymatgen `Structure` "
                         f"{send['structure']['make_and_pickle_ms']} ms, a `Cell` of arrays "
                         f"{send['cell']['make_and_pickle_ms']} ms ({send['speedup']:.0f}x).")
        for variant, got in res.items():
            if not isinstance(got, dict) or "relax" not in got:
                continue
            graphs = "serially" if variant == "serial_graphs" else variant.replace("graphs_on_", "in ").replace("_", " ")
            relaxed = got["relax"]
            lines.append(f"| {where} | {res['n']:,} ({res['atoms_mean']:.1f} atoms) | {res['batch_size']} | {graphs} | "
                         f"{got['predict']['structures_per_s']:,} | {relaxed['structures_per_s']:,} "
                         f"(≤ {relaxed['steps']} steps, mean {relaxed['mean_steps']:.0f}; {relaxed['converged']:,} "
                         f"converged) | `{name}` |")
    if not lines:
        return []
    return ["Throughput (`benchmarks/bench_oracle.py`; MP-20 `val` crystals, each strained by 2 % and rattled by "
            "0.05 Å so that relaxing has work to do; crystal graphs are built on the CPU):", "",
            "| device | crystals | batch | graphs built | predict (crystals/s) | relax (crystals/s) | file |",
            "|---|---|---|---|---|---|---|", *lines, "", *[f"- {note}" for note in notes], *([""] if notes else [])]


def oracle_section(runs: Path) -> str:
    path = runs / FILE
    if not path.exists():
        return ""
    res = json.loads(path.read_text())
    hulls, fitted = res["hull"], res["hull"]["fitted"]
    form, labels = res["formation_energy"], res["labels"]
    lines = ["## The oracle: how far to trust CHGNet here", "",
             f"`{FILE}` (`{COMMAND}`), from the cached CHGNet labels in `data/oracle/`. A hull of "
             f"{fitted['reference_entries']:,} entries (CHGNet energies of MP-20 `val`, plus one per element) scores the "
             "held-out `test` crystals; the dataset's `e_above_hull` is Materials Project's (DFT with its corrections, "
             "on a hull of every MP entry). Elemental references: `fitted` = least-squares μ that turn CHGNet energies "
             "into the dataset's formation energies; `prototypes` = the best relaxed fcc/bcc/hcp/sc/diamond crystal.", "",
             *_hull_rows(hulls), "",
             f"MP-20 keeps only crystals within 0.08 eV/atom of MP's hull (largest `test` value "
             f"{_f(fitted.get('dataset_e_above_hull_max'))}), so a faithful proxy puts nearly all of them at ≤ 0.1. "
             f"What a hull of a few thousand crystals misses: {_pct(fitted.get('test_without_any_val_compound_in_their_system'))} "
             "of the `test` crystals meet no `val` compound inside their own chemical system, so only the elements "
             "bound them; MP's hull also holds the phases with more than 20 atoms and the unstable ones MP-20 dropped. "
             "A smaller hull lies lower in energy than MP's nowhere and higher in many places, so E_hull comes out "
             "lower and stability rates higher than on MP's hull.", "",
             f"Formation energy from the oracle (μ fitted on `val`, scored on {form['n']:,} `test` crystals): MAE "
             f"{_f(form['mae'])} eV/atom, Pearson r {_f(form['pearson_r'], 4)} (fit residual on `val` "
             f"{_f(form['fit_residual_mae'])} eV/atom). CHGNet was trained on MPtrj, the Materials Project's "
             "relaxation trajectories, which hold most MP-20 crystals: on them it is in its training distribution; "
             "on generated crystals it is a weaker judge than these numbers suggest.", ""]
    perov = res.get("hull_perov_5", {})
    if "proxy_stable_at_0.1" in perov:
        lines += [f"Perov-5 (hull of its `val` split scoring `test`): only {_pct(perov['proxy_stable_at_0.1'])} of the "
                  f"`test` crystals lie within 0.1 eV/atom of it (median E_hull {_f(perov['proxy_quantiles']['0.5'], 2)} "
                  "eV/atom): the dataset is hypothetical cubic perovskites, mostly unstable, so a S.U.N. rate on "
                  "Perov-5 says little.", ""]
    quantity = {"bulk_modulus_gpa": ("bulk modulus", "GPa", 0), "magmom_per_volume": ("magnetic density", "μB/Å³", 4)}
    rows = [(quantity[k], v) for k, v in labels.items() if k in quantity]
    if rows:
        lines += [f"Labels of MP-20 `{labels['split']}` (CHGNet at the dataset's geometry):", "",
                  "| property | crystals | 5 % | median | 95 % | 99 % | share at or above MatterGen's target |",
                  "|---|---|---|---|---|---|---|"]
        for (name, unit, digits), v in rows:
            q = v["quantiles"]
            lines.append(f"| {name} ({unit}) | {v['n']:,} | {_f(q['0.05'], digits)} | {_f(q['0.5'], digits)} | "
                         f"{_f(q['0.95'], digits)} | {_f(q['0.99'], digits)} | "
                         f"{_pct(v['share_at_or_above_mattergen'])} (≥ {v['mattergen_window']:g}) |")
        lines.append("")
    if res.get("literature"):
        lines += ["Against measured values:", "", "| crystal | split | property | CHGNet | measured | source |",
                  "|---|---|---|---|---|---|"]
        for r in res["literature"]:
            digits = 1 if "GPa" in r["property"] else 3
            lines.append(f"| {r['formula']} ({r['material_id']}) | {r['split']} | {r['property']} | "
                         f"{_f(r['chgnet'], digits)} | {_f(r['measured'], digits)} | {r['source']} |")
        lines.append("")
    lines += _throughput_rows(runs)
    return "\n".join(lines) + "\n"

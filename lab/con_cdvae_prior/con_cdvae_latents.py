"""How far would a perfect latent prior get Con-CDVAE? (CPU; the README's section 05.)

    MATLIB_DATA=../shared/data python lab/con_cdvae_prior/con_cdvae_latents.py STEM OUT.json [N]

STEM: notebook 05's MP-20 checkpoints without the suffix (STEM_stage1, STEM_prior). Per
formation-energy target, up to N test crystals whose label lies in the window are encoded and
their means decoded (own conditions; then the asked value as the condition), against the
notebook's route (prior, 16 latents kept by the predictor, matched fill) on the same count."""
import json, sys
import numpy as np
import torch
from matlib import datasets, judges
from matlib.cdvae import LangevinConfig, decode, generate, store, condition_values
from matlib.evaluation import process_pool, targeted_report
from matlib.evaluation.success import in_window
from matlib.search.latent_search import encode_posteriors

def main():
    stem, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 120
    model, _ = store.load_conditional(stem + "_stage1"); prior, _ = store.load_prior(stem + "_prior")
    model.eval(); prior.eval()
    names = [s.name for s in model.conditions]
    train = datasets.load_split("mp_20", "val"); test = datasets.load_split("mp_20", "test")
    train_values = condition_values(train.table, model.conditions)
    test_values = condition_values(test.table, model.conditions)
    judge = judges.load_judge("mp_20", "formation_energy_per_atom")
    fe = names.index("formation_energy_per_atom")
    lang = LangevinConfig(steps_per_level=10)
    rows = []
    with process_pool() as pool:
        def report(label, structures, target, extra):
            summary, _ = targeted_report(structures, judge, (target - 0.25, target + 0.25), executor=pool,
                                         diversity=False)
            row = dict(case=label, target=target, n=summary["n"], valid=summary["valid"],
                       in_window_of_valid=summary["in_window_of_valid"], success=summary["success_rate"],
                       judged_mean=summary["judged_mean"], **extra)
            rows.append(row); print(row, flush=True)
        for target in (-2.0, 0.0, -4.0):
            g = torch.Generator().manual_seed(0)
            pick = np.flatnonzero(in_window(test_values[:, fe].numpy(), target - 0.25, target + 0.25))
            pick = np.random.default_rng(0).permutation(pick)[:n]
            batch = test.batch().select(pick.tolist())
            with torch.no_grad():
                mu, _ = encode_posteriors(model.cdvae, batch)
                z_cond = model.z_cond(mu, test_values[pick])
            res = decode(model.cdvae, z_cond, lang, generator=g)
            report("posterior means of in-window test crystals, own conditions", res.crystals.to_structures(), target,
                   dict(label_mean=float(test_values[pick, fe].mean())))
            # the same latents with the asked target in place of the own FE condition
            asked = test_values[pick].clone(); asked[:, fe] = target
            with torch.no_grad():
                res = decode(model.cdvae, model.z_cond(mu, asked), lang, generator=torch.Generator().manual_seed(0))
            report("posterior means, FE condition = target", res.crystals.to_structures(), target, {})
            # the notebook's route: prior + 16 latents down-selected, matched fill
            targets = torch.full((len(pick), len(names)), float("nan")); targets[:, fe] = target
            with torch.no_grad():
                samples = generate(model, prior, targets, train_values, lang, oversample=16,
                                   generator=torch.Generator().manual_seed(0))
            report("prior, 16 latents, matched fill (the notebook)", samples.crystals.to_structures(), target, {})
    json.dump(rows, open(out, "w"), indent=1, default=float)

if __name__ == "__main__":
    main()

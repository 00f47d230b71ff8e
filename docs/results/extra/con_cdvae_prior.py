"""Does a longer-trained latent prior lift Con-CDVAE's success? (CPU; the README's section 05.)

    MATLIB_DATA=../shared/data python docs/results/extra/con_cdvae_prior.py STEM OUT.jsonl N committed,constant:25000,cosine:25000

The stage-1 model STEM_stage1 stays; each variant is the prior STEM_prior or a new one trained for
the given steps (learning-rate schedule: constant or cosine; optionally beta_end=B, the noise
schedule's last beta, and draws=K, K posterior samples per crystal instead of its mean), scored
on N crystals per target."""
import json, sys, time
import torch
from matlib import datasets, judges
from matlib.cdvae import LangevinConfig, LatentPrior, LatentPriorConfig, generate, store, condition_values, latent_minibatches
from matlib.evaluation import process_pool, targeted_report
from matlib.latent_search import encode_posteriors
from matlib.training import budget_schedule, fit

def main():
    stem, out_path, n, variants = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
    model, _ = store.load_conditional(stem + "_stage1"); model.eval()
    names = [s.name for s in model.conditions]; fe = names.index("formation_energy_per_atom")
    train = datasets.load_split("mp_20", "val")
    train_values = condition_values(train.table, model.conditions)
    with torch.no_grad():
        mu_train, sigma_train = encode_posteriors(model.cdvae, train.batch())
    judge = judges.load_judge("mp_20", "formation_energy_per_atom")
    lang = LangevinConfig(steps_per_level=10)
    out = open(out_path, "a")
    with process_pool() as pool:
        for variant in variants:
            if variant == "committed":
                prior, ck = store.load_prior(stem + "_prior"); steps, loss = ck.step, None
            else:
                # KIND:STEPS[:beta_end=B][:draws=K] -- K posterior draws z = mu + sigma*eps per crystal instead of mu
                kind, k, *extras = variant.split(":"); steps = int(k)
                options = dict(e.split("=") for e in extras)
                latents, values = mu_train, train_values
                if "draws" in options:
                    draws = int(options["draws"]); g = torch.Generator().manual_seed(0)
                    latents = (mu_train.repeat(draws, 1)
                               + sigma_train.repeat(draws, 1) * torch.randn(draws * len(mu_train), mu_train.shape[1], generator=g))
                    values = train_values.repeat(draws, 1)
                torch.manual_seed(0)
                prior = LatentPrior(LatentPriorConfig(model.cdvae.config.latent, model.conditions,
                                                      beta_end=float(options.get("beta_end", 0.02))))
                prior.fit_scale(latents)
                opt = torch.optim.AdamW(prior.parameters(), lr=1e-3)
                t0 = time.perf_counter()
                run = fit(prior, opt, lambda p, item: p.loss(item[0], item[1]),
                          latent_minibatches(latents, values, 256, seed=0), max_steps=steps, grad_clip=1.0,
                          scheduler=budget_schedule(opt, kind, steps, None), log_every=100, desc="prior")
                loss = run.last(); print(variant, "trained in", time.perf_counter() - t0, "s, loss", loss, flush=True)
            prior.eval()
            for target in (-2.0, 0.0):
                targets = torch.full((n, len(names)), float("nan")); targets[:, fe] = target
                with torch.no_grad():
                    res = generate(model, prior, targets, train_values, lang, oversample=16,
                                   generator=torch.Generator().manual_seed(1))
                summary, _ = targeted_report(res.crystals.to_structures(), judge, (target - 0.25, target + 0.25),
                                             executor=pool, diversity=False)
                row = dict(variant=variant, prior_steps=steps, prior_loss=loss, target=target, n=n,
                           valid=summary["valid"], in_window_of_valid=summary["in_window_of_valid"],
                           success=summary["success_rate"], judged_mean=summary["judged_mean"])
                out.write(json.dumps(row, default=float) + "\n"); out.flush(); print(row, flush=True)

if __name__ == "__main__":
    main()

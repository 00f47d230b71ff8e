"""Which latent prior lifts Con-CDVAE's success? (README, section 05.)

    MATLIB_DATA=../shared/data python lab/con_cdvae_prior/con_cdvae_prior.py STEM OUT.jsonl N VARIANTS [TARGETS]

The stage-1 model STEM_stage1 stays; each variant (comma-separated) is the prior STEM_prior
("committed") or a new one, KIND:STEPS[:option=value...]: KIND constant or cosine (learning-rate
schedule), STEPS its length; options: beta_end (the noise schedule's last beta), draws (K posterior
samples per crystal instead of its mean), network (film | unet), width and blocks (film).
TARGETS: "fe" (formation energy -2 and 0 eV/atom, the default) or "all" (the notebook's six
single-property targets). N crystals per target, 16 latents per crystal kept by the predictor.
Runs on the GPU when there is one."""
import json, sys, time
import torch
from matlib import datasets, judges
from matlib.cdvae import LangevinConfig, LatentPrior, LatentPriorConfig, generate, store, condition_values, latent_minibatches
from matlib.evaluation import process_pool, targeted_report
from matlib.search.latent_search import encode_posteriors
from matlib.training import budget_schedule, fit

TARGETS = {"fe": [("formation_energy_per_atom", -2.0, 0.25), ("formation_energy_per_atom", 0.0, 0.25)],
           "all": [("formation_energy_per_atom", t, 0.25) for t in (0.0, -2.0, -4.0)]
                  + [("band_gap", t, 0.5) for t in (1.0, 3.0, 5.0)]}
INTEGER_OPTIONS = ("draws", "width", "blocks")


def train_prior(model, mu, sigma, values, variant, device):
    kind, k, *extras = variant.split(":")
    steps, options = int(k), dict(e.split("=") for e in extras)
    latents = mu
    if "draws" in options:          # K posterior draws z = mu + sigma*eps per crystal instead of mu
        draws = int(options.pop("draws")); g = torch.Generator(device=device).manual_seed(0)
        latents = mu.repeat(draws, 1) + sigma.repeat(draws, 1) * torch.randn(
            draws * len(mu), mu.shape[1], device=device, generator=g)
        values = values.repeat(draws, 1)
    settings = {k: int(v) if k in INTEGER_OPTIONS else v if k == "network" else float(v) for k, v in options.items()}
    torch.manual_seed(0)
    prior = LatentPrior(LatentPriorConfig(model.cdvae.config.latent, model.conditions, **settings)).to(device)
    prior.fit_scale(latents)
    opt = torch.optim.AdamW(prior.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    run = fit(prior, opt, lambda p, item: p.loss(item[0], item[1]), latent_minibatches(latents, values, 256, seed=0),
              max_steps=steps, grad_clip=1.0, scheduler=budget_schedule(opt, kind, steps, None), log_every=100,
              desc="prior")
    print(variant, "trained in", round(time.perf_counter() - t0, 1), "s, loss", run.last(), flush=True)
    return prior, steps, run.last(), time.perf_counter() - t0


def main():
    stem, out_path, n, variants = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
    targets = TARGETS[sys.argv[5] if len(sys.argv) > 5 else "fe"]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, _ = store.load_conditional(stem + "_stage1", device=device); model.eval()
    names = [s.name for s in model.conditions]
    train = datasets.load_split("mp_20", "val")
    train_values = condition_values(train.table, model.conditions).to(device)
    with torch.no_grad():
        mu_train, sigma_train = encode_posteriors(model.cdvae, train.batch().to(device))
    judge_of = {prop: judges.load_judge("mp_20", prop, device=device) for prop in {p for p, _, _ in targets}}
    lang = LangevinConfig(steps_per_level=10)
    out = open(out_path, "a")
    with process_pool() as pool:
        for variant in variants:
            if variant == "committed":
                prior, ck = store.load_prior(stem + "_prior", device=device); steps, loss, seconds = ck.step, None, None
            else:
                prior, steps, loss, seconds = train_prior(model, mu_train, sigma_train, train_values, variant, device)
            prior.eval()
            for prop, target, half in targets:
                asked = torch.full((n, len(names)), float("nan")); asked[:, names.index(prop)] = target
                with torch.no_grad():
                    res = generate(model, prior, asked, train_values, lang, oversample=16,
                                   generator=torch.Generator(device=device).manual_seed(1))
                summary, _ = targeted_report(res.crystals.to_structures(), judge_of[prop], (target - half, target + half),
                                             executor=pool, diversity=False)
                row = dict(variant=variant, prior_steps=steps, prior_loss=loss, prior_seconds=seconds, property=prop,
                           target=target, n=n, valid=summary["valid"], in_window_of_valid=summary["in_window_of_valid"],
                           success=summary["success_rate"], judged_mean=summary["judged_mean"])
                out.write(json.dumps(row, default=float) + "\n"); out.flush(); print(row, flush=True)


if __name__ == "__main__":
    main()

"""Where do a latent prior's samples lie? (README, section 05.)

    MATLIB_DATA=../shared/data python lab/con_cdvae_prior/con_cdvae_latent_space.py STEM

For formation-energy targets 0 / -2 / -4 eV/atom: 300 samples of the prior STEM_prior (other
conditions from matched training rows, no down-selection) against the encoder's means of test
crystals whose label lies in the window. Printed per set: the predictor's reading of the latents,
the median distance to the nearest training latent in units of the encoder's mean σ per dimension,
and the samples' spread per dimension relative to the training latents' (median over dimensions)."""
import sys
import torch
from matlib import datasets
from matlib.cdvae import condition_values, fill_missing, store
from matlib.search.latent_search import encode_posteriors


def main():
    stem = sys.argv[1]
    model, _ = store.load_conditional(stem + "_stage1"); model.eval()
    prior, _ = store.load_prior(stem + "_prior")
    encoded = {}
    for split in ("val", "test"):
        data = datasets.load_split("mp_20", split)
        with torch.no_grad():
            mu, sigma = encode_posteriors(model.cdvae, data.batch())
        encoded[split] = (mu, sigma, condition_values(data.table, model.conditions))
    mu, sigma, values = encoded["val"]
    weight = 1 / sigma.mean(0)
    spread = torch.tensor([s.spread for s in model.conditions])
    test_mu, _, test_values = encoded["test"]
    generator = torch.Generator().manual_seed(0)

    def describe(name, z, target):
        with torch.no_grad():
            reading = model.predictor(z)[:, 0]
        distance = torch.cdist(z * weight, mu * weight).min(1).values.median()
        width = (z.std(0) / mu.std(0)).median()
        print(f"{name:28s} target {target:+.0f}: reads {reading.mean():+.2f} (sd {reading.std():.2f}), "
              f"nearest training latent {distance:.1f}, spread {width:.2f} x the data's", flush=True)

    for target in (0.0, -2.0, -4.0):
        inside = (test_values[:, 0] - target).abs() <= 0.25
        describe("test crystals in the window", test_mu[inside][:300], target)
        asked = torch.full((300, len(model.conditions)), float("nan")); asked[:, 0] = target
        conditions = fill_missing(asked, values, generator, nearest=100, scale=spread)
        describe(f"prior ({prior.config.network})", prior.sample(conditions, generator), target)


if __name__ == "__main__":
    main()

"""Where a notebook-02 CDVAE loses composition validity: prior draws against posterior draws (README, 02).

    MATLIB_DATA=... python cdvae_prior_holes.py STEM DATASET [N_PRIOR]

For 2,000 prior draws z ~ N(0, I) (seed 0), and for the posterior means and posterior samples of every
`val` and `test` crystal: the SMACT validity of the composition head's output rounded to whole
counts (the composition decoding starts from), before any Langevin step; the split's own rate; and
the posteriors' aggregate variance per latent dimension and mean KL on `val`."""
import collections, sys
import torch
from pymatgen.core import Composition, Element
from matlib import datasets
from matlib.cdvae import CrystalEncoder, store
from matlib.cdvae.langevin import initial_elements
from matlib.evaluation.validity import composition_validity
from matlib.search.latent_search import encode_posteriors


def valid_share(tokens: torch.Tensor, num_atoms: torch.Tensor) -> float:
    """Share of crystals (``tokens`` = atomic numbers, ``num_atoms`` per crystal) whose composition
    passes SMACT, with CDVAE's gcd-reduced counts."""
    counts = [collections.Counter(atoms.tolist()) for atoms in torch.split(tokens, num_atoms.tolist())]
    flags = [composition_validity(Composition({Element.from_Z(z): c for z, c in crystal.items()})) for crystal in counts]
    return sum(flags) / len(flags)


def starting_validity(model, z: torch.Tensor, num_atoms: torch.Tensor) -> float:
    probabilities = torch.softmax(model.heads(z)["composition"].float(), -1)
    return valid_share(initial_elements(probabilities, num_atoms), num_atoms)


@torch.no_grad()
def main():
    stem, dataset = sys.argv[1], sys.argv[2]
    n_prior = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    model, _ = store.load(stem)
    model.eval()
    z = torch.randn(n_prior, model.config.latent, generator=torch.Generator().manual_seed(0))
    logits = model.heads(z)["num_atoms"].float()
    logits[:, 0] = float("-inf")
    print(f"prior draws: {starting_validity(model, z, logits.argmax(-1)):.4f}")
    for split in ("val", "test"):
        batch = datasets.load_split(dataset, split).batch()
        mu, sigma = encode_posteriors(model, batch)
        noise = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))
        print(f"{split}: posterior means {starting_validity(model, mu, batch.num_atoms):.4f}, posterior samples "
              f"{starting_validity(model, mu + sigma * noise, batch.num_atoms):.4f}, "
              f"the split itself {valid_share(batch.atom_types, batch.num_atoms):.4f}")
        if split == "val":
            variance = mu.var(0) + (sigma ** 2).mean(0)
            kl = CrystalEncoder.kl(mu, 2 * sigma.log())
            low, high = torch.quantile(variance, torch.tensor([0.05, 0.95])).tolist()
            print(f"val: aggregate variance per dimension {low:.3f}–{high:.3f} (5–95 %), KL {kl:.1f}")


if __name__ == "__main__":
    main()

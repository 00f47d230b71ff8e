"""Decode a notebook-02 CDVAE checkpoint into an extxyz file, on a GPU when there is one (README, 02).

    MATLIB_DATA=... python cdvae_decode.py STEM OUT.extxyz N STEPS_PER_LEVEL [CHUNK] [PRIOR_TEMPERATURE]

z ~ N(0, τ² I) (τ = PRIOR_TEMPERATURE, default 1: CDVAE's prior) and the notebook's decoding
(rounded composition, elements held until σ_type < 0.1), generator seeded 0 on the device, CHUNK
crystals at a time (default 1,000). Crystals that cannot become a structure are left out (the
count is printed). Score the file with score_extxyz.py."""
import sys, time
import torch
from matlib import config
from matlib import io as crystal_io
from matlib.cdvae import LangevinConfig, decode, prior_draws, store


@torch.no_grad()
def decode_prior(model, n: int, steps_per_level: int, chunk: int, generator: torch.Generator, autocast=None,
                 temperature: float = 1.0) -> list:
    """n crystals from z ~ N(0, τ² I), drawn and decoded ``chunk`` at a time with one generator
    (None where a crystal cannot become a structure)."""
    decoding = LangevinConfig(steps_per_level=steps_per_level, relabel_below=0.1)
    structures = []
    for first in range(0, n, chunk):
        z = prior_draws(min(chunk, n - first), model.config.latent, temperature=temperature, generator=generator,
                        device=model.device)
        result = decode(model, z, decoding, generator=generator, autocast=autocast, desc=f"{first}")
        structures += result.crystals.to("cpu").to_structures()
    return structures


def main():
    stem, out, n, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    chunk = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    temperature = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
    cfg = config.resolve("full", seed=0)
    model, _ = store.load(stem, device=cfg.device)
    start = time.perf_counter()
    structures = decode_prior(model, n, steps, chunk, torch.Generator(device=cfg.device).manual_seed(0), cfg.autocast,
                              temperature)
    kept = [s for s in structures if s is not None]
    crystal_io.write_extxyz(kept, out)
    print(f"{n} decoded at {steps} steps per level, τ = {temperature}, {len(kept)} kept, "
          f"{time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()

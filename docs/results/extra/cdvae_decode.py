"""Decode a notebook-02 CDVAE checkpoint into an extxyz file, on a GPU when there is one (README, 02).

    MATLIB_DATA=... python cdvae_decode.py STEM OUT.extxyz N STEPS_PER_LEVEL [CHUNK]

z ~ N(0, I) and the notebook's decoding (rounded composition, elements held until σ_type < 0.1),
generator seeded 0 on the device, CHUNK crystals at a time (default 1,000). Crystals that cannot
become a structure are left out (the count is printed). Score the file with score_extxyz.py."""
import sys, time
import torch
from matlib import config
from matlib import io as crystal_io
from matlib.cdvae import LangevinConfig, decode, store


def main():
    stem, out, n, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    chunk = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    cfg = config.resolve("full", seed=0)
    model, _ = store.load(stem, device=cfg.device)
    model.eval()
    generator = torch.Generator(device=cfg.device).manual_seed(0)
    structures, start = [], time.perf_counter()
    for first in range(0, n, chunk):
        z = torch.randn(min(chunk, n - first), model.config.latent, device=cfg.device, generator=generator)
        with torch.no_grad():
            result = decode(model, z, LangevinConfig(steps_per_level=steps, relabel_below=0.1), generator=generator,
                            autocast=cfg.autocast)
        structures += result.crystals.to("cpu").to_structures()
    kept = [s for s in structures if s is not None]
    crystal_io.write_extxyz(kept, out)
    print(f"{n} decoded at {steps} steps per level, {len(kept)} kept, {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()

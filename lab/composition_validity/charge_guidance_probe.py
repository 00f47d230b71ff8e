"""Can notebook 06's machinery steer notebook 04's model toward charge-balanced compositions?
Adapters fine-tuned on a 0/1 label (CDVAE's SMACT composition validity of each training crystal),
then classifier-free guidance toward 1 (README, section 04).

    MATLIB_DATA=... python charge_guidance_probe.py SECONDS N SEED GAMMA [GAMMA ...] > OUT.jsonl

The committed MP-20 model; adapters for SECONDS on `val` (batches of 256, cosine to zero, 20 %
condition dropout); N crystals per γ, the same sampler seed and atom counts for every γ (γ = 0 is
the base model). Prints one JSON line per γ: validity and the element mix's distance to `val`."""
import json, sys, time
import torch
from matlib import config, datasets
from matlib.diffusion import CrystalDiffusion, SamplerConfig, guided_denoiser, sample, store
from matlib.diffusion.finetune import fine_tune
from matlib.evaluation import composition_validity, validity_table
from matlib.evaluation.properties import element_shares, share_distance


def charge_labels(structures) -> torch.Tensor:
    return torch.tensor([float(composition_validity(s)) for s in structures])


def scored(structures, reference_shares) -> dict:
    table = validity_table(structures, progress_bar=False)   # a crystal that could not be built counts invalid
    return {"n": len(structures), "struct_valid": float(table.struct_valid.mean()),
            "comp_valid": float(table.comp_valid.mean()),
            "element_mix_distance": share_distance(element_shares(structures), reference_shares)}


def main():
    seconds, n, seed, gammas = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), map(float, sys.argv[4:])
    cfg = config.resolve("full", seed=seed)
    base, _ = store.load("data/checkpoints/diffusion/mp_20", device=cfg.device)
    train = datasets.load_split("mp_20", "val")
    labels = charge_labels(train.structures)
    model, run = fine_tune(base, CrystalDiffusion.prepare(train.batch()), labels, seconds=seconds, batch_size=256,
                           lr_schedule="cosine", seed=seed, autocast=cfg.autocast, desc="charge adapters")
    print(json.dumps({"labels_valid": float(labels.mean()), "finetune_steps": run.steps,
                      "finetune_seconds": run.seconds}), flush=True)
    reference = element_shares(train.structures)
    sizes = base.sample_num_atoms(n, generator=torch.Generator().manual_seed(seed)).to(model.device)
    for gamma in gammas:
        start = time.perf_counter()
        generator = torch.Generator(device=model.device).manual_seed(seed)
        result = sample(model, sizes, SamplerConfig(batch_size=1000), generator=generator,
                        denoise_fn=guided_denoiser(model, 1.0, gamma), autocast=cfg.autocast, desc=f"γ={gamma}")
        row = {"gamma": gamma, **scored(result.crystals.to("cpu").to_structures(), reference),
               "sample_seconds": time.perf_counter() - start, "sampler_seed": seed}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

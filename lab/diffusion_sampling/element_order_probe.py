"""Issue 6 probe: which atoms unmask when, and redrawing elements on the finished cell (README, 04).

    python element_order_probe.py CHECKPOINT OUT.jsonl VARIANTS SEEDS [EXTXYZ_DIR]
VARIANTS, comma-separated: "random" (the plain sampler), "confidence" (MaskGIT order),
"sweepsK@T" (K rounds reopening a share T of the elements at the end), "confidence+sweepsK@T", "noisyTAU" (confidence order ranked by log p + TAU·Gumbel).
10,000 crystals per (variant, seed) (PROBE_N to change), 200 steps; structure and composition
validity, the mean number of elements and the share of distinct reduced formulas. With EXTXYZ_DIR,
each run's crystals are saved there."""
import json, re, sys
from pathlib import Path
import numpy as np
from matlib import io as crystal_io
from research_sampler import ResearchSamplerConfig as SamplerConfig, load as research_load
from matlib.evaluation import formula_unique_flags, process_pool
from matlib.evaluation.properties import num_elements
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diffusion_training"))   # probe04
from probe04 import cfg, sample_scored


def sampler_for(variant: str) -> SamplerConfig:
    options = dict(steps=200, batch_size=5000)
    for part in variant.split("+"):
        if part == "confidence":
            options["unmask_order"] = "confidence"
        elif (m := re.fullmatch(r"noisy([\d.]+)", part)):
            options.update(unmask_order="confidence", order_noise=float(m[1]))
        elif (m := re.fullmatch(r"sweeps(\d+)@([\d.]+)", part)):
            options.update(element_sweeps=int(m[1]), sweep_time=float(m[2]))
        elif part != "random":
            raise ValueError(f"unknown variant part {part!r}")
    return SamplerConfig(**options)


def main():
    stem, out = sys.argv[1], sys.argv[2]
    variants, seeds = sys.argv[3].split(","), [int(x) for x in sys.argv[4].split(",")]
    saved = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    model, ck = research_load(stem, device=cfg.device)   # a type-clock model too
    model.eval()
    with process_pool() as pool:
        for variant in variants:
            for seed in seeds:
                structures, res, shares = sample_scored(model, sampler_for(variant), seed, pool)
                row = dict(checkpoint=str(stem), step=ck.step, variant=variant, seed=seed, n=len(structures),
                           sample_s=res.seconds, network_calls=res.network_calls, **shares,
                           mean_elements=float(np.mean([num_elements(s) for s in structures])),
                           formula_unique=float(formula_unique_flags(structures).mean()))
                print(row, flush=True)
                with open(out, "a") as f:
                    f.write(json.dumps(row) + "\n")
                if saved is not None:
                    saved.mkdir(parents=True, exist_ok=True)
                    crystal_io.write_extxyz(structures, saved / f"{variant.replace('@', '_').replace('+', '_')}_s{seed}.extxyz")


if __name__ == "__main__":
    main()

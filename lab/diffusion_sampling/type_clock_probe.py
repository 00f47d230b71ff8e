"""Issue 6 probe: elements on a clock of their own (README, 04).

    python type_clock_probe.py OUT.jsonl SHARE SECONDS WINDOWS [SAVE_STEM]

Trains notebook 04's full recipe on mp_20/val (probe04.train) with a share SHARE of the crystals'
elements masked at a time drawn apart from the positions' (research_sampler's independent_type_time),
then samples 10,000 crystals (seed 8, 200 steps) for each element window in WINDOWS
("1-0,0.5-0,1-0.5": type_window) and scores structure and composition validity,
distinct formulas and the element mix's distance to val. The question: do elements chosen on
settled positions (a late window) balance their charges more often than elements chosen on noise?"""
import json, sys
from pathlib import Path
from matlib import datasets
from matlib.diffusion import store
from research_sampler import ResearchSamplerConfig as SamplerConfig
from matlib.evaluation import formula_unique_flags, process_pool
from matlib.evaluation.properties import element_shares, share_distance
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diffusion_training"))   # probe04
from probe04 import cfg, sample_scored, train


def main():
    out, share, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    windows = [tuple(float(x) for x in w.split("-")) for w in sys.argv[4].split(",")]
    train_set = datasets.load_split("mp_20", "val")
    model, run, _ = train(train_set, seconds, independent_type_time=share)
    if len(sys.argv) > 5:
        store.save(sys.argv[5], model, dataset="mp_20", split="val", step=run.steps)
    model.eval()
    val_mix = element_shares(train_set.structures)
    with process_pool() as pool:
        for window in windows:
            sampler = SamplerConfig(steps=200, batch_size=5000, type_window=window)
            structures, res, shares = sample_scored(model, sampler, 8, pool)
            row = dict(independent_type_time=share, steps=run.steps, train_seconds=seconds, window=window,
                       n=len(structures), sample_s=res.seconds, **shares,
                       formula_unique=float(formula_unique_flags(structures).mean()),
                       mix_distance_to_val=share_distance(element_shares(structures), val_mix))
            print(row, flush=True)
            with open(out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

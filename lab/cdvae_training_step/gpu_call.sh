# The GPU call behind profile_cdvae_step_h100.txt and docs/results/runs/bench_cdvae_training.json
# (5 minutes on one H100; pack perov_5 too: GPU_DATA="mp_20 perov_5" ../shared/tools/gpu-pack), run from
# the repository root with carry [".gpu"]: the GPU tests of the packed and recorded steps, the profile, the benchmark.
source .gpu/setup.sh
export MATLIB_PROGRESS=0
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/test_packing.py 2>&1 | tail -2
timeout 120 python3 lab/cdvae_training_step/profile_cdvae_step.py $OUT/profile_cdvae_step_h100.txt 2>&1 | grep -v -i "warn\|split"
cd benchmarks && timeout 300 python3 bench_cdvae_training.py --datasets perov_5 mp_20 \
    --out $OUT/bench_cdvae_training.json 2>&1 | grep -v -i "warn\|split"

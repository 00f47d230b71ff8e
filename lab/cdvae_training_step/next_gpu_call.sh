# The GPU call this probe needs next (about 7 minutes on one H100, carry [".gpu"]; pack perov_5 too:
# GPU_DATA="mp_20 perov_5" ../shared/tools/gpu-pack): the GPU tests (the replayed CDVAE step with its
# encoder and decoder compiled equals the eager step), the MP-20 step profiled, and the benchmark of
# the decoder compiled against the encoder and decoder compiled, each against the notebook route; the
# encoder's gated convolution with its first product split by input (factored_conv.py).
source .gpu/setup.sh
export MATLIB_PROGRESS=0
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/test_packing.py 2>&1 | tail -2
timeout 170 python3 lab/cdvae_training_step/profile_cdvae_step.py $OUT/profile_cdvae_step_mp_20_h100.txt \
    --dataset mp_20 2>&1 | grep -v -i "warn\|split"
cd benchmarks && timeout 200 python3 bench_cdvae_training.py --datasets perov_5 mp_20 \
    --variants cached captured-compiled captured-compiled-all --out $OUT/bench_cdvae_compiled_all.json 2>&1 \
    | grep -v -i "warn\|split"
cd .. && timeout 70 python3 lab/cdvae_training_step/factored_conv.py 2>&1 | grep -v -i "warn\|split"

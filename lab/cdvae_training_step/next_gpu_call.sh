# The GPU calls this probe needs next, run from the repository root with carry [".gpu"] (pack perov_5
# too: GPU_DATA="mp_20 perov_5" ../shared/tools/gpu-pack). Two calls, each under the 10-minute limit:
#   bash lab/cdvae_training_step/next_gpu_call.sh speed     (about 6 minutes)
#   bash lab/cdvae_training_step/next_gpu_call.sh quality   (about 7.5 minutes)
# speed: the GPU tests (the replayed CDVAE step with its encoder and decoder compiled equals the eager
# step), the benchmark of the decoder compiled against the encoder and decoder compiled, each against
# the notebook route, the encoder's gated convolution with its first product split by input or its
# input cast before it is joined (factored_conv.py), and the MP-20 step profiled if time is left.
# quality: notebook 02 at `full` trained from scratch with the recorded step, to compare its validity and
# coverage with the committed `full` run (eager, 6,045 steps in 280 s); without CHGNet's relaxations and
# with a one-row sweep, which that comparison does not need and which keep the call inside the limit.
source .gpu/setup.sh || exit 1
export MATLIB_PROGRESS=0
nvidia-smi --query-gpu=name --format=csv,noheader
case "${1:-speed}" in
speed)
    timeout 90 python3 -m pytest -q -p no:cacheprovider tests/test_packing.py 2>&1 | tail -2
    (cd benchmarks && timeout 220 python3 bench_cdvae_training.py --datasets perov_5 mp_20 \
        --variants cached captured-compiled captured-compiled-all --out $OUT/bench_cdvae_compiled_all.json 2>&1 \
        | grep -v -i "warn\|split")
    timeout 80 python3 lab/cdvae_training_step/factored_conv.py 2>&1 | grep -v -i "warn\|split"
    timeout $((570 - SECONDS)) python3 lab/cdvae_training_step/profile_cdvae_step.py \
        $OUT/profile_cdvae_step_mp_20_h100.txt --dataset mp_20 2>&1 | grep -v -i "warn\|split" ;;
quality)
    timeout 480 papermill notebooks/02_cdvae.ipynb $OUT/02_recorded.ipynb -p profile full -p out_dir $OUT/02_recorded \
        -y 'overrides: {record_step: true, use_checkpoint: false, stability: 0, sweep: [10]}' -k python3 \
        --log-level WARNING 2>&1 | grep -v -i warn | tail -15
    rm -f $OUT/02_recorded/*.safetensors ;;
esac
echo "done at $SECONDS s"

"""matlib: the helper package behind the crystal-generation notebooks, laid out as the architecture.

data            datasets/ (locate, parse, dataset, cache) · registry (the benchmark datasets) · crystal
                (batched crystals) · graph (periodic neighbour lists) · io (CIF, extxyz, zip) · batching
shared networks nn/ (periodic GNN, all-pairs score network, time and element features, edges,
                wrapped-normal noise)
models          cdvae/ (CDVAE, Con-CDVAE) · diffusion/ (joint diffusion, adapters, guidance) · matgan/
                (composition matrices, WGAN-GP, screening) · baselines
guidance/search scigen/ (structure constraints) · search/ (bird swarm, latent search, candidates)
evaluation      evaluation/ (CDVAE's metrics and more) · judges (property GNNs) · comparison/ (the
                review's tables) · published (the papers' rows) · targets (checked property targets)
training        training (the fit loop) · schedules · checkpoints (safetensors + manifest) · load_or_train
                (the one route from a checkpoint or a training run to a model)
infrastructure  config (a notebook's setup: profiles, device, seeding) · presets (notebooks/presets/*.yaml)
                · paths · results · parallel · cluster · progress
                · jsonsafe · viz (3D views, plot style) · nglview_pins
course tooling  course/ (the main job's runner, the README and results generators; nothing taught)
"""
__version__ = "0.1.0"

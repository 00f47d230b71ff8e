"""Guidance by search: looking for crystals with a target property among what a trained generator
can produce.

``swarm`` (the bird swarm algorithm), ``latent_search`` (MAGECS: a property predictor on CDVAE's
latent space, searched by the swarm or by gradients) and ``candidates`` (each generator's best
crystals, picked by one rule for every method).
"""

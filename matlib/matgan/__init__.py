"""MatGAN (Dan et al. 2020): compositions as 85 x 8 matrices and a Wasserstein GAN over them.

``composition_matrix`` (the representation), ``wgan`` (generator, critic, WGAN-GP training) and
``composition_screening`` (SMACT screening of generated compositions).
"""

"""Target latent spaces: what the encoder learns to predict for each stimulus.

The targets stage runs :func:`pipeline.targets.compute.compute_targets`; the latent models
are registered in :data:`pipeline.targets.base.TARGETS`.
"""

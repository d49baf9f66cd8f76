"""Serving trained decoders: self-contained bundles, an HTTP app with a web viewer, and
offline evaluation of a bundle on held-out recordings.

A bundle (:mod:`pipeline.serving.export`, :mod:`pipeline.serving.bundle`) is one folder a lab
hands to a colleague: the encoder (safetensors + config.json), the preprocessing it expects,
the gallery of stimulus latents, the generators, the metrics, the licences and a sha256 of
every file. Nothing in it is unpickled when it is loaded.
"""

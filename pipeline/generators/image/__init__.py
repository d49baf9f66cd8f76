"""Image generators: diffusion, sd_ip_adapter, stable_unclip (``GENERATORS["image"]``)."""

"""Text generators (registered in ``GENERATORS["text"]``: gemma, prefix_lm)."""

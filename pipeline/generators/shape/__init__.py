"""Shape generators (registered in ``GENERATORS["shape"]``: parametric)."""

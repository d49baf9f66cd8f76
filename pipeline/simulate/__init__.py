"""The built-in simulator: parametric 3D stimuli -> cortical sources -> sensors or voxels (BIDS).

:func:`pipeline.simulate.modalities.simulate_study` writes a study in the modality its
options name (``SIMULATORS``); the stimuli, sources and noise are modules of their own.
"""

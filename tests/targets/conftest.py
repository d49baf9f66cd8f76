"""A tiny simulated study's stimuli/ folder (images, captions, simulator latents) for targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.simulate.options import SimulateConfig
from pipeline.simulate.stimuli import make_stimuli


def write_simulated_stimuli(raw: Path, train: int = 48, val: int = 8, test: int = 8) -> Path:
    """Render simulated stimuli at 32 px into ``raw/stimuli`` (stimuli.tsv, images/, latents.npy).

    Returns
    -------
    Path
        The stimuli folder.
    """
    stimuli = make_stimuli(SimulateConfig(stimuli={"train": train, "val": val, "test": test},
                                          image_size=32))
    folder = raw / "stimuli"
    (folder / "images").mkdir(parents=True)
    for name, image in zip(stimuli.table["image"], stimuli.images, strict=True):
        Image.fromarray(image).save(folder / name)
    stimuli.table.to_csv(folder / "stimuli.tsv", sep="\t", index=False)
    np.save(folder / "latents.npy", stimuli.latents.astype(np.float32))
    return folder


@pytest.fixture(scope="session")
def simulated_raw(tmp_path_factory) -> Path:
    """A raw study root whose stimuli/ holds 48 train, 8 val and 8 test simulated stimuli."""
    raw = tmp_path_factory.mktemp("raw")
    write_simulated_stimuli(raw)
    return raw


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every targets test runs on one torch thread (see tests/conftest.py)."""

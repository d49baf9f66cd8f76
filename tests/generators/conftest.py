"""A tiny simulated stimulus set (images, captions, 3D parameters, latents) for generator tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.generators.base import StimulusSet
from pipeline.simulate.options import SimulateConfig
from pipeline.simulate.stimuli import make_stimuli


def make_stimulus_set(root: Path, train: int = 48, val: int = 8, test: int = 8,
                      image_size: int = 32, seed: int = 0) -> StimulusSet:
    """Render a simulated stimulus set into ``root`` and return it with its simulator latents.

    The latents are the simulator's generating vectors (shape one-hot, hue, size, pose,
    background one-hot): a target space in which every stimulus attribute is decodable.
    """
    cfg = SimulateConfig(seed=seed, stimuli={"train": train, "val": val, "test": test},
                         image_size=image_size)
    stimuli = make_stimuli(cfg)
    (root / "images").mkdir(parents=True, exist_ok=True)
    for name, image in zip(stimuli.table["image"], stimuli.images, strict=True):
        Image.fromarray(image).save(root / name)
    stimuli.table.to_csv(root / "stimuli.tsv", sep="\t", index=False)
    return StimulusSet(root, stimuli.table, stimuli.latents.astype(np.float32))


@pytest.fixture(scope="session")
def stimulus_set(tmp_path_factory) -> StimulusSet:
    """48 train, 8 val and 8 test stimuli at 32 x 32 pixels, in ``<raw root>/stimuli``."""
    return make_stimulus_set(tmp_path_factory.mktemp("raw") / "stimuli")


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory):
    """A CLIP BPE tokenizer over a few letters (enough for empty and short prompts), for tiny
    random-weight diffusers pipelines."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny_tokenizer")
    letters = list("abcdefghijklmnopqrstuvwxyz")
    tokens = ["<|startoftext|>", "<|endoftext|>", *letters, *(f"{c}</w>" for c in letters)]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                                      model_max_length=16)

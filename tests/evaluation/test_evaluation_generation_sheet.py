"""The reconstruction sheet of a study whose stimuli have no images (heard speech)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.evaluation.generation.sheet import plot_sheet
from pipeline.generators.base import StimulusSet, TextOutput

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_sheet_of_sounds_names_each_stimulus_beside_its_words(tmp_path):
    table = pd.DataFrame({"stimulus_id": ["seg-0001", "seg-0002"], "split": "test",
                          "audio": ["audio/seg-0001.wav", "audio/seg-0002.wav"],
                          "caption": ["the old farmer", "a red boat"]})
    test = StimulusSet(tmp_path, table, np.zeros((2, 4), np.float32))  # no audio file is read
    outputs = {"text": {"decoder": TextOutput(["the farmer", "a boat"]),
                        "ceiling": TextOutput(["the old farmer", "a red boat"])}}
    path = tmp_path / "reconstructions.png"
    plot_sheet(test, outputs, 12, path)
    assert path.read_bytes().startswith(PNG_SIGNATURE) and path.stat().st_size > 2000

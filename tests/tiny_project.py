"""Tiny settings of the shipped params.yaml, shared by the repro and the serving tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TINY = {
    "study": {"options": {"simulated": {"n_subjects": 2,
                                        "stimuli": {"train": 24, "val": 8, "test": 8},
                                        "test_repetitions": 2,
                                        "oracle": {"n_noise_epochs": 200}}}},
    "targets": {"name": "simulator"},
    "train": {"max_epochs": 2, "batch_size": 16,
              "encoder": {"options": {"conv": {"hidden_channels": 8, "depth": 1,
                                               "spatial_channels": 8}}}},
    "evaluate": {"n_bootstrap": 50},
    "generators": {
        "image": {"options": {"diffusion": {"image_size": 16, "block_out_channels": [8, 16],
                                            "steps": 10, "eval_every": 5, "batch_size": 8}}},
        "text": {"options": {"prefix_lm": {"epochs": 2, "lm_width": 16, "lm_heads": 2,
                                           "lm_layers": 1, "mapping_hidden": 16}}}},
    "generate": {"sampling": {"diffusion": {"steps": 2}, "prefix_lm": {"max_new_tokens": 8}}},
}
TINY_EEG = {"generators": {}}  # the shipped eeg overrides replaced: TINY's generators apply


def merge(base: Any, update: Any) -> Any:
    """``base`` updated by ``update``, mappings merged key by key."""
    if not isinstance(base, dict) or not isinstance(update, dict):
        return update
    merged = dict(base)
    for key, value in update.items():
        merged[key] = merge(base.get(key, {}), value) if isinstance(value, dict) else value
    return merged


def tiny_params(project_root: Path) -> dict[str, Any]:
    """The shipped params with TINY merged onto the shared sections, eeg's overrides reset."""
    params = merge(yaml.safe_load((project_root / "params.yaml").read_text()), TINY)
    params["studies"]["eeg"].update(TINY_EEG)
    return params

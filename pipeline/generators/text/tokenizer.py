"""A word-level tokenizer built from the training captions (for the tiny GPT-2)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

from pipeline.errors import DataError
from pipeline.io import require_file

PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "[BOS]", "[EOS]"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)  # ids 0, 1, 2, 3
TOKENIZER_FILE = "tokenizer.json"


def _wrap(tokenizer: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=PAD, unk_token=UNK,
                                   bos_token=BOS, eos_token=EOS)


def build_word_tokenizer(captions: list[str]) -> PreTrainedTokenizerFast:
    """Build a lower-cased word-level tokenizer whose vocabulary is the words of ``captions``.

    Words are runs of letters and digits, and runs of punctuation (the ``Whitespace``
    pre-tokenizer). The vocabulary holds the special tokens, then every word, most frequent
    first (ties alphabetically), so the same captions always give the same ids; any other
    word becomes ``[UNK]``.

    Parameters
    ----------
    captions : list of str
        The training captions.

    Returns
    -------
    PreTrainedTokenizerFast
        With ``pad``, ``unk``, ``bos`` and ``eos`` tokens set (ids 0 to 3).

    Raises
    ------
    DataError
        If the captions hold no word at all.
    """
    normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    pre_tokenizer = pre_tokenizers.Whitespace()
    counts = Counter(
        word
        for caption in captions
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(caption))
    )
    if not counts:
        raise DataError(f"got {len(captions)} captions without any word; expected some text")
    words = sorted(counts, key=lambda word: (-counts[word], word))
    vocab = {token: index for index, token in enumerate((*SPECIAL_TOKENS, *words))}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token=UNK))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    return _wrap(tokenizer)


def save_word_tokenizer(tokenizer: PreTrainedTokenizerFast, directory: Path) -> None:
    """Write the tokenizer as ``tokenizer.json`` into ``directory``."""
    tokenizer.backend_tokenizer.save(str(directory / TOKENIZER_FILE))


def load_word_tokenizer(directory: Path) -> PreTrainedTokenizerFast:
    """Read a tokenizer written by :func:`save_word_tokenizer`.

    Raises
    ------
    DataError
        If ``tokenizer.json`` is missing or unreadable.
    """
    path = require_file(directory / TOKENIZER_FILE, "the caption tokenizer of the text generator")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
        raise DataError(f"{path}: not a tokenizers JSON file ({exc})") from None
    return _wrap(tokenizer)

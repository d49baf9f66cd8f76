"""The prefix_lm text generator: tokenizer, fitting on train captions only, save/load, options."""

from __future__ import annotations

import dataclasses
import logging
import re

import numpy as np
import pytest
import torch

from pipeline.errors import DataError, ParamsError
from pipeline.generators import GENERATORS
from pipeline.generators.base import StimulusSet, TextOutput
from pipeline.generators.text.decoding import caption_loss
from pipeline.generators.text.prefix_lm import PrefixLM
from pipeline.generators.text.tokenizer import (
    UNK,
    build_word_tokenizer,
    load_word_tokenizer,
    save_word_tokenizer,
)
from pipeline.generators.text.training import caption_dataset

TINY = {"prefix_length": 2, "mapping_hidden": 64, "lm_width": 64, "lm_layers": 1, "lm_heads": 2,
        "epochs": 60, "patience": 60, "lr": 3e-3, "batch_size": 16, "condition_noise": 0.0}
SAMPLING = PrefixLM.parse_sampling({"max_new_tokens": 20})


@pytest.fixture(scope="module")
def fitted(stimulus_set: StimulusSet) -> PrefixLM:
    """A tiny prefix_lm fitted on the 48 training captions, keeping its last epoch (no val)."""
    torch.set_num_threads(1)
    no_val = stimulus_set.split("none")
    return PrefixLM.fit(PrefixLM.parse_options(TINY), stimulus_set.split("train"), no_val, seed=0)


def test_registered_as_text_generator():
    assert GENERATORS["text"].get("prefix_lm") is PrefixLM


def test_tokenizer_round_trip_and_unknown_words(tmp_path):
    tokenizer = build_word_tokenizer(["a red cube", "A blue cube on a Grey background"])
    assert tokenizer.decode(tokenizer("a blue cube")["input_ids"]) == "a blue cube"
    ids = tokenizer("a GREEN cube", add_special_tokens=False)["input_ids"]
    assert ids[1] == tokenizer.convert_tokens_to_ids(UNK) and ids[0] != ids[1]
    assert tokenizer.convert_ids_to_tokens(ids[2]) == "cube"
    save_word_tokenizer(tokenizer, tmp_path)
    loaded = load_word_tokenizer(tmp_path)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert loaded("a red background")["input_ids"] == tokenizer("a red background")["input_ids"]
    with pytest.raises(DataError, match="without any word"):
        build_word_tokenizer(["", "  "])


def test_memorises_training_captions(fitted, stimulus_set):
    train = stimulus_set.split("train")
    out = fitted.generate(train.latents, SAMPLING, seed=0)
    exact = np.mean([a == b for a, b in zip(out.captions, train.table["caption"], strict=True)])
    assert exact >= 0.8, list(zip(out.captions[:5], train.table["caption"][:5], strict=True))


def test_output_count_scale_invariance_and_beams(fitted, stimulus_set):
    test = stimulus_set.split("test")
    out = fitted.generate(test.latents, SAMPLING, seed=0)
    assert isinstance(out, TextOutput) and len(out.captions) == len(test)
    assert all(isinstance(c, str) and c for c in out.captions)
    assert fitted.generate(3.0 * test.latents, SAMPLING, seed=5).captions == out.captions
    beams = fitted.generate(test.latents[:3], PrefixLM.parse_sampling({"num_beams": 3}), 0)
    assert len(beams.captions) == 3
    assert fitted.generate(test.latents[:0], SAMPLING, 0).captions == []
    with pytest.raises(DataError, match=r"expected \(n, 19\)"):
        fitted.generate(test.latents[:, :5], SAMPLING, 0)
    with pytest.raises(ParamsError, match="max_new_tokens"):
        fitted.generate(test.latents, PrefixLM.parse_sampling({"max_new_tokens": 200}), 0)


def test_save_load_round_trip(fitted, stimulus_set, tmp_path):
    fitted.save(tmp_path)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["config.json", "lm.safetensors", "mapping.safetensors", "tokenizer.json"]
    loaded = PrefixLM.load(tmp_path)
    latents = stimulus_set.split("test").latents
    assert (loaded.generate(latents, SAMPLING, 0).captions
            == fitted.generate(latents, SAMPLING, 0).captions)
    (tmp_path / "tokenizer.json").unlink()
    with pytest.raises(DataError, match="tokenizer.json"):
        PrefixLM.load(tmp_path)


def test_deterministic_per_seed(stimulus_set):
    options = PrefixLM.parse_options({**TINY, "epochs": 2, "condition_noise": 1.0})
    train, val = stimulus_set.split("train"), stimulus_set.split("val")
    first, again, other = (PrefixLM.fit(options, train, val, seed=s) for s in (1, 1, 2))
    weights = [g.mapping.state_dict()["net.0.weight"] for g in (first, again, other)]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    latents = stimulus_set.split("test").latents
    assert (first.generate(latents, SAMPLING, 0).captions
            == again.generate(latents, SAMPLING, 0).captions)


def test_fit_keeps_the_best_validation_epoch(stimulus_set, caplog):
    train, val = stimulus_set.split("train"), stimulus_set.split("val")
    options = PrefixLM.parse_options({**TINY, "epochs": 30, "lr": 1e-2})
    with caplog.at_level(logging.INFO, logger="pipeline.generators.text.training"):
        generator = PrefixLM.fit(options, train, val, seed=0)
    kept = re.search(r"kept epoch (\d+) \(val loss ([\d.]+)\)", caplog.text)
    assert kept and int(kept[1]) < 29  # overfits 48 captions: the last epoch is not the best
    data = caption_dataset(generator.mapping, generator.lm, val.table["caption"].tolist(),
                           val.latents)
    with torch.no_grad():
        loss = caption_loss(generator.mapping, generator.lm, *data.tensors)
    assert float(loss) == pytest.approx(float(kept[2]), abs=1e-3)


def test_fit_never_reads_test_captions(stimulus_set, tmp_path):
    table = stimulus_set.table.copy()
    test = table["split"] == "test"
    table.loc[test, "caption"] = "a zebra quokka"
    table.to_csv(tmp_path / "stimuli.tsv", sep="\t", index=False)
    poisoned = dataclasses.replace(stimulus_set, root=tmp_path, table=table)
    options = PrefixLM.parse_options({**TINY, "epochs": 1})
    generator = PrefixLM.fit(options, poisoned.split("train"), poisoned.split("val"), seed=0)
    train_words = {w for c in poisoned.split("train").table["caption"] for w in c.split()}
    vocab = set(generator.lm.tokenizer.get_vocab())
    assert vocab - train_words == {"[PAD]", "[UNK]", "[BOS]", "[EOS]"}
    assert not {"zebra", "quokka"} & vocab


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lm": "gpt5"}, "unknown language model 'gpt5'; expected one of gemma3_270m, tiny_gpt2"),
        ({"lm_width": 30, "lm_heads": 4}, "lm_width divisible by lm_heads"),
        ({"finetune_lm": False}, "built untrained"),
        ({"epochs": 0}, "epochs"),
        ({"prefix_len": 3}, "prefix_len"),
    ],
)
def test_bad_options_give_one_line_errors(options, message):
    with pytest.raises(ValueError, match=message) as error:
        PrefixLM.parse_options(options)
    assert "\n" not in str(error.value)


def test_bad_sampling_gives_one_line_error():
    with pytest.raises(ValueError, match="num_beams") as error:
        PrefixLM.parse_sampling({"num_beams": 0})
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_gemma_prefix_fits_and_captions(stimulus_set, tmp_path):
    from pipeline.generators.text.gemma import missing_packages

    missing = missing_packages()
    if missing:
        pytest.skip(f"Gemma path needs {', '.join(missing)} (pip install 'brainrecon[gemma]')")
    torch.set_num_threads(2)
    train = stimulus_set.split("train")
    small = StimulusSet(train.root, train.table[:8], train.latents[:8])
    val = stimulus_set.split("val")
    options = PrefixLM.parse_options({"lm": "gemma3_270m", "epochs": 1, "batch_size": 4,
                                      "prefix_length": 2, "mapping_hidden": 32})
    assert not options.trains_lm
    generator = PrefixLM.fit(options, small, StimulusSet(val.root, val.table[:2], val.latents[:2]),
                             seed=0)
    assert not any(p.requires_grad for p in generator.lm.model.parameters())
    sampling = PrefixLM.parse_sampling({"max_new_tokens": 6})
    captions = generator.generate(small.latents[:2], sampling, 0).captions
    assert len(captions) == 2 and all(isinstance(c, str) for c in captions)
    generator.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "mapping.safetensors"]
    assert PrefixLM.load(tmp_path).generate(small.latents[:2], sampling, 0).captions == captions

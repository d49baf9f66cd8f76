"""The ``stable_unclip`` image generator, with a tiny random-weight pipeline from disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.errors import ParamsError
from pipeline.generators.image.embedding_map import image_embeddings
from pipeline.generators.image.stable_unclip import StableUnCLIPGenerator

diffusers = pytest.importorskip("diffusers")
PIPELINE_DEVICE = os.environ.get("BRAINRECON_TEST_DEVICE", "cpu")  # "cuda": check the GPU path
transformers = pytest.importorskip("transformers")

EMBED = 32  # CLIP image embedding (projection) dimension


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def unclip_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A random tiny StableUnCLIPImg2ImgPipeline saved with save_pretrained (16 px output)."""
    from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import (
        StableUnCLIPImageNormalizer,
    )

    folder = tmp_path_factory.mktemp("tiny_unclip")
    torch.manual_seed(0)
    text = transformers.CLIPTextConfig(vocab_size=64, hidden_size=32, intermediate_size=37,
                                       num_hidden_layers=1, num_attention_heads=4,
                                       max_position_embeddings=16, projection_dim=EMBED)
    vision = transformers.CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32,
                                           intermediate_size=37, num_hidden_layers=1,
                                           num_attention_heads=4, projection_dim=EMBED)
    unet = diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 64),
        layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
        attention_head_dim=(2, 4), class_embed_type="projection",
        projection_class_embeddings_input_dim=2 * EMBED)
    vae = diffusers.AutoencoderKL(block_out_channels=(32, 64), latent_channels=4,
                                  down_block_types=("DownEncoderBlock2D",) * 2,
                                  up_block_types=("UpDecoderBlock2D",) * 2, sample_size=16)
    pipe = diffusers.StableUnCLIPImg2ImgPipeline(
        feature_extractor=transformers.CLIPImageProcessor(size=32, crop_size=32),
        image_encoder=transformers.CLIPVisionModelWithProjection(vision).eval(),
        image_normalizer=StableUnCLIPImageNormalizer(embedding_dim=EMBED),
        image_noising_scheduler=diffusers.DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        tokenizer=tiny_tokenizer,
        text_encoder=transformers.CLIPTextModel(text).eval(),
        unet=unet.eval(), scheduler=diffusers.DDIMScheduler(), vae=vae.eval())
    pipe.save_pretrained(folder / "pipeline", safe_serialization=True)
    return folder / "pipeline"


@pytest.fixture(scope="module")
def fitted(unclip_dir, stimulus_set) -> StableUnCLIPGenerator:
    options = StableUnCLIPGenerator.parse_options({"path": str(unclip_dir),
                                                   "device": PIPELINE_DEVICE})
    return StableUnCLIPGenerator.fit(options, stimulus_set.split("train"),
                                     stimulus_set.split("val"), seed=0)


def sampling(**changes):
    return StableUnCLIPGenerator.parse_sampling({"steps": 2, "guidance_scale": 3.0, **changes})


def test_stable_unclip_saved_with_safetensors_only(unclip_dir):
    assert list(unclip_dir.rglob("*.safetensors"))
    assert not [p for p in unclip_dir.rglob("*") if p.suffix in {".bin", ".pt", ".pkl"}]


def test_stable_unclip_map_reaches_the_pipelines_embeddings(fitted, stimulus_set):
    from pipeline.generators.image.stable_unclip import load_pipeline

    train = stimulus_set.split("train")
    pipe = load_pipeline(fitted.options.path, "cpu")
    truth = image_embeddings(pipe.image_encoder, pipe.feature_extractor, train.images(32), 8)
    mapped = fitted.embedding_map(fitted.scaler(train.latents))  # (n, EMBED)
    assert mapped.shape == truth.shape == (len(train), EMBED)
    # the map explains the embeddings better than their mean does
    assert np.mean((mapped - truth) ** 2) < 0.9 * np.mean((truth - truth.mean(0)) ** 2)


def test_stable_unclip_generates_deterministically_and_round_trips(fitted, stimulus_set,
                                                                  tmp_path):
    latents = stimulus_set.split("test").latents[:3]
    images = fitted.generate(latents, sampling(), seed=1).images
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    alone = fitted.generate(latents, sampling(batch_size=1), seed=1).images  # float rounding only
    assert np.abs(images.astype(int) - alone).max() <= 1
    assert not np.array_equal(images, fitted.generate(latents, sampling(), seed=2).images)
    assert not np.array_equal(images, fitted.generate(latents[::-1], sampling(), seed=1).images)
    fitted.save(tmp_path / "gen")
    assert not [p for p in (tmp_path / "gen").rglob("*") if p.suffix in {".bin", ".pt", ".pkl"}]
    loaded = StableUnCLIPGenerator.load(tmp_path / "gen")
    np.testing.assert_array_equal(images, loaded.generate(latents, sampling(), seed=1).images)
    wide = fitted.generate(latents[:1], sampling(image_size=24, noise_level=100), seed=1).images
    assert wide.shape == (1, 24, 24, 3)


def test_stable_unclip_missing_folder_is_one_line(stimulus_set, tmp_path):
    missing = tmp_path / "no_unclip"
    options = StableUnCLIPGenerator.parse_options({"path": str(missing)})
    with pytest.raises(ParamsError, match=rf"folder '{missing}' not found") as error:
        StableUnCLIPGenerator.fit(options, stimulus_set.split("train"),
                                  stimulus_set.split("val"), seed=0)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="steps"):
        StableUnCLIPGenerator.parse_sampling({"steps": 0})

"""``generators`` and ``generate``: fitting the generators, generating from latents."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.config import Section


class GeneratorChoice(Section):
    """One kind of generator: the one to fit, and the fitting options of every one (by name)."""

    name: str
    options: dict[str, dict[str, Any]] = {}

    def kwargs(self) -> dict[str, Any]:
        """Return the options of the selected generator."""
        return dict(self.options.get(self.name, {}))


class GeneratorsConfig(Section):
    """``generators``: the image, text and shape generators fitted on the training stimuli."""

    section: ClassVar[str] = "generators"

    seed: int = 0
    kinds: list[Literal["image", "text", "shape"]] = Field(
        ["image", "text", "shape"], description="the kinds of output this study generates"
    )
    image: GeneratorChoice = GeneratorChoice(name="diffusion")
    text: GeneratorChoice = GeneratorChoice(name="prefix_lm")
    shape: GeneratorChoice = GeneratorChoice(name="parametric")
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")

    @model_validator(mode="after")
    def _known_generators(self) -> GeneratorsConfig:
        from pipeline.generators import GENERATORS, KINDS

        for kind in KINDS:
            choice: GeneratorChoice = getattr(self, kind)
            GENERATORS[kind].get(choice.name)
            for name, options in choice.options.items():
                GENERATORS[kind].get(name).parse_options(options)
        return self

    def choice(self, kind: str) -> GeneratorChoice:
        """The generator chosen for ``kind``."""
        return getattr(self, kind)


class LatentPriorConfig(Section):
    """The training-latent prior (:mod:`pipeline.generators.latent_prior`) of ``generate``."""

    temperature: float = Field(0.05, gt=0, description="softmax temperature over cosines")
    kinds: list[Literal["image", "text", "shape"]] = Field(
        ["image"], description="the kinds generated from projected latents")


class GenerateConfig(Section):
    """``generate``: predicted latents -> images, captions and 3D objects.

    Each test stimulus is generated once per source, from the mean of the unit-normalised
    predicted latents of all its test trials (every subject, every repetition).
    """

    section: ClassVar[str] = "generate"

    seed: int = 0
    sampling: dict[str, dict[str, Any]] = Field(
        {}, description="sampling options of each generator, by name (no refit when changed)"
    )
    num_threads: int = Field(0, ge=0, description="torch CPU threads; 0 keeps the default")
    latent_prior: LatentPriorConfig | None = Field(
        None, description="project the decoder's and the baseline's latents onto the training "
        "latents before generating (the true latents of the ceiling are not projected)")

    @field_validator("sampling")
    @classmethod
    def _known_sampling(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from pipeline.generators.registered import find_generator

        for name, options in value.items():
            find_generator(name).parse_sampling(options)
        return value


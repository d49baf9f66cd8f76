"""``export``: what a decoder bundle carries."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeline.config import Section


class ExportConfig(Section):
    """``export``: what a decoder bundle carries beside the decoder and its gallery."""

    section: ClassVar[str] = "export"

    baseline: bool = Field(
        True, description="carry the ridge baseline, scored beside the decoder offline")
    examples: bool = Field(
        True, description="carry the study's test trials (browsed by the web viewer)")


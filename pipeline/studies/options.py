"""``study``: which study writes the raw BIDS root, and the options of every study."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import field_validator

from pipeline.config import Section, registered, validate_options

StudyName = Annotated[str, registered("pipeline.studies", "STUDIES")]


class StudyConfig(Section):
    """``study``: where the raw BIDS root comes from, and the options of every study."""

    section: ClassVar[str] = "study"

    name: StudyName = "simulated"
    options: dict[str, dict[str, Any]] = {}

    @field_validator("options")
    @classmethod
    def _known_option_keys(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from pipeline.studies import STUDIES

        for name, options in value.items():
            validate_options(STUDIES.get(name).options, options, name)
        return value

    def settings(self) -> Section:
        """Return the validated options of the selected study (defaults where unset)."""
        from pipeline.studies import STUDIES

        return validate_options(
            STUDIES.get(self.name).options, self.options.get(self.name, {}), self.name
        )


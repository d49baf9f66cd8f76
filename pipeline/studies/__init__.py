"""Studies: where the raw BIDS root comes from, keyed by ``study.name`` in params.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from pipeline.registry import Registry

if TYPE_CHECKING:
    from pipeline.config import Section
    from pipeline.studies.options import StudyConfig


class Study(Protocol):
    """A study writes its raw BIDS root from its options (``study.options.<name>``)."""

    options: ClassVar[type[Section]]

    def generate(self, options: Section, out_dir: Path) -> None:
        """Write the BIDS root into ``out_dir`` (which may not exist yet)."""


STUDIES: Registry[type[Study]] = Registry("study", modules=(
    "pipeline.studies.bids",
    "pipeline.studies.eegmmidb",
    "pipeline.studies.haxby2001",
    "pipeline.studies.meg_masc",
    "pipeline.studies.nsd",
    "pipeline.studies.rawfiles",
    "pipeline.studies.simulated",
    "pipeline.studies.things_eeg2",
    "pipeline.studies.things_meg",
))


def generate_study(cfg: StudyConfig, out_dir: Path) -> None:
    """Generate the study named by ``cfg.name`` into ``out_dir``.

    Parameters
    ----------
    cfg : StudyConfig
        The ``study`` section of params.yaml.
    out_dir : Path
        The BIDS root to write (the caller makes it atomic).

    Raises
    ------
    ValueError
        If ``cfg.name`` is not registered; the message lists the known studies.
    """
    STUDIES.get(cfg.name)().generate(cfg.settings(), Path(out_dir))

"""Studies: where the raw BIDS root comes from, keyed by ``simulate.study`` in params.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pipeline.registry import Registry

if TYPE_CHECKING:
    from pipeline.config import SimulateConfig


class Study(Protocol):
    """A study writes its raw BIDS root."""

    def generate(self, cfg: SimulateConfig, out_dir: Path) -> None:
        """Write the BIDS root into ``out_dir`` (which may not exist yet)."""


STUDIES: Registry[type[Study]] = Registry("study")

from pipeline.studies import simulated  # noqa: E402, F401  (modules register themselves)


def generate_study(cfg: SimulateConfig, out_dir: Path) -> None:
    """Generate the study named by ``cfg.study`` into ``out_dir``.

    Parameters
    ----------
    cfg : SimulateConfig
        The ``simulate`` section of params.yaml.
    out_dir : Path
        The BIDS root to write (the caller makes it atomic).

    Raises
    ------
    ValueError
        If ``cfg.study`` is not registered; the message lists the known studies.
    """
    STUDIES.get(cfg.study)().generate(cfg, Path(out_dir))

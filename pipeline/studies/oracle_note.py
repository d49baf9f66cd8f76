"""The oracle folder of a study without an oracle: a note saying why, so stages can depend on it.

Only a simulated study knows the noiseless responses its oracle needs. ``dvc.yaml`` gives
every study's ``evaluate`` the folder ``derivatives/oracle`` as a dependency; a study of real
recordings gets the folder with this note alone, and ``evaluate`` reports the oracle as null.
"""

from __future__ import annotations

from pathlib import Path

ORACLE_DIR = Path("derivatives") / "oracle"
NOTE = "README"
TEXT = ("No oracle: this study's recordings are real, so the noiseless responses an oracle\n"
        "needs are unknown. evaluate reports the oracle as null.\n")


def note_missing_oracle(root: Path) -> bool:
    """Write ``derivatives/oracle/README`` unless the study wrote its oracle; return whether."""
    folder = Path(root) / ORACLE_DIR
    if folder.is_dir():
        return False
    folder.mkdir(parents=True)
    (folder / NOTE).write_text(TEXT)
    return True
